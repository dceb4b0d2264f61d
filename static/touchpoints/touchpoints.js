// Check-up pages: small behaviour that the CSP (script-src 'self') keeps out of the templates.
(function () {
  "use strict";
  // A touchpoint row answers a refused form with 400 and a changed state with 409, each with
  // the row to show (the form with its messages, or the row as it is now). htmx drops 4xx
  // bodies by default, so let those through for the rows that ask for it.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var xhr = event.detail.xhr;
    var target = event.detail.target;
    if (!xhr || !target || !target.closest) {
      return;
    }
    if ((xhr.status === 400 || xhr.status === 409) && target.closest("[data-swap-errors]")) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
  // After a swap, put the focus on the first field with an error, or on the row's message.
  document.addEventListener("htmx:afterSwap", function (event) {
    var row = event.detail.target;
    if (!row || !row.querySelector) {
      return;
    }
    var fresh = document.getElementById(row.id) || row;
    var bad = fresh.querySelector(".has-error input, .has-error select, .has-error textarea");
    if (bad) {
      bad.focus();
    }
  });
})();
