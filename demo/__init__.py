"""Demo and benchmark data: `manage.py seed_demo` (the story a `make run` shows) and
`manage.py seed_scale` (the benchmark's volume). The top layer: it imports the product apps and
none of them imports it."""
