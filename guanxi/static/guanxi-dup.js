/* Duplicates and merge pages (CSP: no inline scripts). The pages work without it; this adds:
 * - "Take all values from this one": ticks that record's value in every field of the merge form;
 * - the queue's status select shows its pairs as soon as it changes. */
(function () {
  "use strict";

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-take-all]");
    if (!button) {
      return;
    }
    var record = button.getAttribute("data-take-all");
    var form = button.closest("form");
    form.querySelectorAll('input[type=radio][data-record="' + record + '"]').forEach(function (radio) {
      radio.checked = true;
    });
    var survivor = form.querySelector('input[data-survivor][value="' + record + '"]');
    if (survivor) {
      survivor.checked = true;
    }
  });

  /* Fields with the same value in every record are hidden (nothing to choose); this shows them. */
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-show-same]");
    if (!button) {
      return;
    }
    document.querySelectorAll(".gx-merge-same").forEach(function (row) {
      row.classList.remove("d-none");
    });
    button.remove();
  });

  document.addEventListener("change", function (event) {
    var select = event.target;
    if (select.matches && select.matches("select[data-autosubmit]") && select.form) {
      select.form.submit();
    }
  });
})();
