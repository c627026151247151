/* List pages: the Export menu and "all records matching" in the bulk bar (CSP: no inline script).
 * The list's filters, sort and page change through htmx without reloading the page; the address bar
 * follows them (hx-push-url), so both read the list's current query from location.search on submit. */
(function () {
  "use strict";

  function currentQuery() {
    return window.location.search.replace(/^\?/, "");
  }

  function rowBoxes() {
    return Array.prototype.slice.call(document.querySelectorAll('input[type=checkbox][name=pk][form="bulk-form"]'));
  }

  /* Offer "all matching" once every row of the page is selected; drop it when one is unticked. */
  function updateMatching() {
    var wrapper = document.querySelector("[data-bulk-matching]");
    if (!wrapper) { return; }
    var boxes = rowBoxes();
    var all = boxes.length > 0 && boxes.every(function (box) { return box.checked; });
    var matching = wrapper.querySelector("[data-bulk-matching-box]");
    wrapper.classList.toggle("d-none", !all);
    if (!all && matching) { matching.checked = false; }
    var submit = document.querySelector("[data-bulk-submit]");
    if (submit && matching && matching.checked) { submit.disabled = false; }
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (!target.matches) { return; }
    if (target.matches("[data-select-all]") || target.matches('input[name=pk][form="bulk-form"]') ||
        target.matches("[data-bulk-matching-box]")) {
      window.setTimeout(updateMatching, 0);  /* after guanxi.js has updated the bar */
    }
  });

  document.body && document.body.addEventListener("htmx:afterSwap", function () { updateMatching(); });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement)) { return; }
    if (form.matches("[data-export-form]")) {
      var query = form.querySelector("[data-export-query]");
      if (query) { query.value = currentQuery(); }
    } else if (form.id === "bulk-form") {
      var bulkQuery = form.querySelector("[data-bulk-query]");
      if (bulkQuery) { bulkQuery.value = currentQuery(); }
    }
  });
})();
