/* The import wizard (CSP: no inline script). Submit buttons are disabled once clicked so a slow
   upload is not sent twice; changing a column's field refreshes the preview. */
(function () {
  "use strict";

  function onSubmit(event) {
    var form = event.target;
    if (!form.matches || !form.matches("[data-import-form]")) {
      return;
    }
    var submitter = event.submitter;
    if (submitter && submitter.name) {
      // A disabled button is not sent: carry its value in a hidden input.
      var carry = document.createElement("input");
      carry.type = "hidden";
      carry.name = submitter.name;
      carry.value = submitter.value;
      form.appendChild(carry);
    }
    form.querySelectorAll("[data-import-submit], button[type=submit]").forEach(function (button) {
      button.disabled = true;
    });
  }

  function onChange(event) {
    var select = event.target;
    if (!select.matches || !select.matches("[data-import-map]")) {
      return;
    }
    var form = select.form;
    var preview = form && form.querySelector("#import-preview-button");
    if (preview) {
      if (form.requestSubmit) {
        form.requestSubmit(preview);
      } else {
        preview.click();
      }
    }
  }

  document.addEventListener("submit", onSubmit, true);
  document.addEventListener("change", onChange);
})();
