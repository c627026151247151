/* Record pickers (guanxi/core/pickers.py): htmx fills the list under the search box as the user
 * types; a click, or arrows and Enter, chooses a record: its chip with a hidden input is put above
 * the box (a single picker replaces its choice, a multiple one adds), × removes it. The hidden input
 * then fires "change", so a filter form reacts as to a select (the search box's own "change" is kept
 * from the filter form by guanxi.js). Plain JavaScript, no inline code (CSP). */
(function () {
  "use strict";

  function pickerOf(node) { return node && node.closest ? node.closest("[data-gx-picker]") : null; }
  function box(picker) { return picker.querySelector("input[type=search]"); }
  function menu(picker) { return picker.querySelector(".gx-picker-menu"); }
  function options(picker) { return Array.prototype.slice.call(menu(picker).querySelectorAll("[data-picker-option]")); }

  function setOpen(picker, open) {
    var list = menu(picker);
    var show = open && list.children.length > 0;
    list.classList.toggle("show", show);
    box(picker).setAttribute("aria-expanded", show ? "true" : "false");
    if (!show) { box(picker).removeAttribute("aria-activedescendant"); }
  }

  function closeAll(except) {
    document.querySelectorAll("[data-gx-picker]").forEach(function (picker) {
      if (picker !== except) { setOpen(picker, false); }
    });
  }

  function move(picker, step) {
    var list = options(picker);
    if (!list.length) { return; }
    setOpen(picker, true);
    window.gxMoveActive(list, box(picker), step);
  }

  function hidden(name, value) {
    var input = document.createElement("input");
    input.type = "hidden";
    input.name = name;
    input.value = value;
    return input;
  }

  function changed(input) { input.dispatchEvent(new Event("change", { bubbles: true })); }

  function chip(picker, id, label) {
    var item = document.createElement("span");
    item.className = "badge bg-blue-lt gx-picker-chip";
    item.setAttribute("data-picker-item", "");
    item.setAttribute("data-id", id);
    var text = document.createElement("span");
    text.className = "gx-picker-chip-label";
    text.textContent = label;
    var remove = document.createElement("button");
    remove.type = "button";
    remove.className = "btn-close gx-picker-remove";
    remove.setAttribute("data-picker-remove", "");
    remove.setAttribute("aria-label", (picker.getAttribute("data-remove-label") || "Remove") + " " + label);
    var input = hidden(picker.getAttribute("data-name"), id);
    item.appendChild(text);
    item.appendChild(input);
    item.appendChild(remove);
    return item;
  }

  function choose(picker, option) {
    var chosen = picker.querySelector("[data-picker-chosen]");
    var id = option.getAttribute("data-id");
    var item = chosen.querySelector('[data-picker-item][data-id="' + id + '"]');
    if (!item) {
      if (!picker.hasAttribute("data-multiple")) { chosen.textContent = ""; }
      item = chip(picker, id, option.getAttribute("data-label"));
      chosen.appendChild(item);
      changed(item.querySelector("input"));
    }
    var input = box(picker);
    input.value = "";
    setOpen(picker, false);
    /* Focus goes back to the box (to type the next one), which asks for the list again: it stays
       closed until the user types, rather than covering what comes below (the form's button). */
    picker.setAttribute("data-picker-chose", "");
    input.focus();
  }

  function unchoose(picker, item) {
    var chosen = picker.querySelector("[data-picker-chosen]");
    item.remove();
    var input;
    if (!picker.hasAttribute("data-multiple")) {
      input = hidden(picker.getAttribute("data-name"), "");  /* posts "none" rather than nothing */
      chosen.appendChild(input);
    }
    changed(input || box(picker));
    box(picker).focus();
  }

  document.addEventListener("htmx:afterSwap", function (event) {
    var picker = pickerOf(event.target);
    if (picker && event.target === menu(picker)) {
      setOpen(picker, !picker.hasAttribute("data-picker-chose") && document.activeElement === box(picker));
    }
  });

  document.addEventListener("input", function (event) {
    var picker = pickerOf(event.target);
    if (picker && event.target === box(picker)) { picker.removeAttribute("data-picker-chose"); }
  });

  document.addEventListener("focusout", function (event) {
    var picker = pickerOf(event.target);
    if (picker && event.target === box(picker)) { picker.removeAttribute("data-picker-chose"); }
  });

  document.addEventListener("keydown", function (event) {
    var picker = pickerOf(event.target);
    if (!picker || event.target !== box(picker)) { return; }
    if (event.key === "ArrowDown") { event.preventDefault(); move(picker, 1); }
    else if (event.key === "ArrowUp") { event.preventDefault(); move(picker, -1); }
    else if (event.key === "Escape") { setOpen(picker, false); }
    else if (event.key === "Enter") {
      event.preventDefault();
      var active = menu(picker).classList.contains("show") && (menu(picker).querySelector(".active") || options(picker)[0]);
      if (active) { choose(picker, active); }
    }
  });

  document.addEventListener("click", function (event) {
    var picker = pickerOf(event.target);
    closeAll(picker);
    if (!picker) { return; }
    var option = event.target.closest("[data-picker-option]");
    if (option) { choose(picker, option); return; }
    var remove = event.target.closest("[data-picker-remove]");
    if (remove) { unchoose(picker, remove.closest("[data-picker-item]")); }
  });
})();
