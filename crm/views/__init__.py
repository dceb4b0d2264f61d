"""The browser UI of crm: server-rendered pages, htmx for in-page actions, by intent in the
modules below (crm/urls.py maps each URL to its view there):

- `accounts`: the accounts list, creating and editing an account, the account page and its timeline;
- `activities`: logging an activity on the account page, and one activity's page;
- `contacts`: the account's contacts;
- `team`: the account team's seats;
- `reassignment`: reassigning an account, and a whole book;
- `deals`: deals and the pipeline board;
- `people`: vendor users, deactivation and one's own profile;
- `shared`: the small helpers several of them use.

Views parse input with crm.forms, fetch objects through crm.permissions (404 for what the user
may not see, 403 for what they see but may not do) and write only through crm.services. GET never
changes anything; every action URL answers 405 to GET.
"""
