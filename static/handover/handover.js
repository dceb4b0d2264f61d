// Handover pages: small behaviour that the CSP (script-src 'self') keeps out of the templates.
(function () {
  "use strict";
  // A 409 Conflict carries a message for the person ("the handover was submitted meanwhile");
  // htmx drops 4xx bodies by default, so let this one through (the server retargets it to #alerts).
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.xhr && event.detail.xhr.status === 409) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
  document.addEventListener("click", function (event) {
    var target = event.target;
    if (target && target.closest && target.closest("[data-print]")) {
      event.preventDefault();
      window.print();
    }
  });
})();
