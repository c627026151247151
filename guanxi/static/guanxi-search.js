/* The top bar's search box: shows the htmx suggestions under the box, arrow keys move through them,
 * Enter opens the chosen one (without a choice the form opens the results page), Escape closes,
 * "/" anywhere focuses the box. Plain JavaScript, no inline code (CSP). */
(function () {
  "use strict";

  function parts() {
    var form = document.querySelector("[data-gx-search]");
    if (!form) { return null; }
    return { form: form, input: form.querySelector("input[name=q]"), menu: form.querySelector(".gx-search-menu") };
  }

  function items(menu) {
    return Array.prototype.slice.call(menu.querySelectorAll("[data-search-hit], [data-search-all]"));
  }

  /* Open with suggestions for what is typed, or, the box empty, with the records opened lately. */
  function setOpen(p, open) {
    var empty = p.input.value.trim() === "";
    var show = open && p.menu.children.length > 0 && (!empty || p.menu.querySelector("[data-search-recent]") !== null);
    p.menu.classList.toggle("show", show);
    p.input.setAttribute("aria-expanded", show ? "true" : "false");
    if (!show) { p.input.removeAttribute("aria-activedescendant"); }
  }

  function move(p, step) {
    var list = items(p.menu);
    if (!list.length) { return; }
    setOpen(p, true);
    window.gxMoveActive(list, p.input, step);
  }

  document.addEventListener("htmx:afterSwap", function (event) {
    var p = parts();
    if (p && event.target === p.menu) { setOpen(p, document.activeElement === p.input); }
  });

  document.addEventListener("keydown", function (event) {
    var p = parts();
    if (!p) { return; }
    if (event.target === p.input) {
      if (event.key === "ArrowDown") { event.preventDefault(); move(p, 1); }
      else if (event.key === "ArrowUp") { event.preventDefault(); move(p, -1); }
      else if (event.key === "Escape") { setOpen(p, false); }
      else if (event.key === "Enter") {
        var active = p.menu.classList.contains("show") && p.menu.querySelector(".active");
        if (active && active.href) { event.preventDefault(); window.location.assign(active.href); }
      }
      return;
    }
    var typing = event.target.closest && event.target.closest("input, textarea, select, [contenteditable]");
    if (event.key === "/" && !typing && !event.ctrlKey && !event.metaKey && !event.altKey) {
      event.preventDefault();
      p.input.focus();
      p.input.select();
    }
  });

  /* Focused while empty: ask for the records opened lately (htmx listens for "gx-recent"). */
  document.addEventListener("focusin", function (event) {
    var p = parts();
    if (!p || event.target !== p.input) { return; }
    if (p.input.value.trim() === "") { p.input.dispatchEvent(new CustomEvent("gx-recent")); }
    setOpen(p, true);
  });

  document.addEventListener("click", function (event) {
    var p = parts();
    if (p && !p.form.contains(event.target)) { setOpen(p, false); }
  });

  /* An emptied box closes the list at once (htmx still asks, and gets the recent records). */
  document.addEventListener("input", function (event) {
    var p = parts();
    if (p && event.target === p.input && p.input.value.trim() === "") { setOpen(p, false); }
  });
})();
