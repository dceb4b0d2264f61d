// "/" focuses the header search box, as in most web apps, unless the user is typing somewhere.
(function () {
  "use strict";
  function typing(el) {
    if (!el) return false;
    var tag = el.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || el.isContentEditable;
  }
  document.addEventListener("keydown", function (event) {
    if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
    if (typing(event.target) || typing(document.activeElement)) return;
    var box = document.getElementById("topsearch-q");
    if (!box) return;
    event.preventDefault();
    box.focus();
    box.select();
  });
})();
