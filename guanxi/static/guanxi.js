/* Guanxi's small behaviours, as plain JavaScript (CSP: no inline scripts, no eval).
 * Everything uses event delegation on document, so rows swapped in by htmx need no set-up. */
(function () {
  "use strict";

  document.documentElement.classList.add("gx-js");

  /* Forms with data-confirm="question" ask before they submit (purge, revoke, remove...); so does a
   * button with one, of the forms it submits (the recycle bin's 彻底删除 beside 恢复). */
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var button = event.submitter;
    var question = (button && button.dataset && button.dataset.confirm) || (form.dataset && form.dataset.confirm);
    if (form instanceof HTMLFormElement && question && !window.confirm(question)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);

  /* The search box filters as you type (htmx "input" trigger); its "change" on blur would send the
   * same request again and race a sort or page click, so the filter form does not hear it. */
  document.addEventListener("change", function (event) {
    if (event.target.matches && event.target.matches("#filter-form input[type=search]")) {
      event.stopPropagation();
    }
  }, true);

  /* Arrow keys through a listbox under an input (the top bar's search, record pickers): the option
   * ``step`` away from the active one (wrapping) becomes active and the input's active descendant.
   * The callers open their list first. */
  window.gxMoveActive = function (options, input, step) {
    if (!options.length) { return; }
    var current = -1;
    options.forEach(function (item, index) {
      if (item.classList.contains("active")) { current = index; }
      item.classList.remove("active");
      item.removeAttribute("aria-selected");
    });
    var next = current + step;
    if (next < 0) { next = options.length - 1; }
    if (next >= options.length) { next = 0; }
    var chosen = options[next];
    chosen.classList.add("active");
    chosen.setAttribute("aria-selected", "true");
    if (!chosen.id) { chosen.id = input.id + "-option-" + next; }
    input.setAttribute("aria-activedescendant", chosen.id);
    chosen.scrollIntoView({ block: "nearest" });
  };

  /* --- list selection and the bulk action bar ------------------------------------------------ */
  function rowBoxes() {
    return Array.prototype.slice.call(document.querySelectorAll('input[type=checkbox][name=pk][form="bulk-form"]'));
  }

  function updateBulkBar() {
    var bar = document.querySelector("[data-bulk-bar]");
    if (!bar) { return; }
    var boxes = rowBoxes();
    var count = boxes.filter(function (box) { return box.checked; }).length;
    var label = bar.querySelector("[data-bulk-count]");
    if (label) {
      label.textContent = count ? label.dataset.templateSome.replace("%(count)s", count) : label.dataset.templateNone;
    }
    var submit = bar.querySelector("[data-bulk-submit]");
    if (submit) { submit.disabled = count === 0; }
    // On a phone the bar shows its action controls only once a row is ticked (guanxi.css).
    bar.classList.toggle("gx-bulk-none", count === 0);
    // The table's header box, and on a phone the one in the bar above the rows.
    document.querySelectorAll("[data-select-all]").forEach(function (all) {
      all.checked = boxes.length > 0 && count === boxes.length;
      all.indeterminate = count > 0 && count < boxes.length;
    });
  }

  function updateBulkTags() {
    var select = document.querySelector("[data-bulk-action]");
    var tags = document.querySelector("[data-bulk-tags]");
    if (!select || !tags) { return; }
    tags.classList.toggle("d-none", !/tags$/.test(select.value));
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.matches && target.matches("[data-select-all]")) {
      rowBoxes().forEach(function (box) { box.checked = target.checked; });
      updateBulkBar();
    } else if (target.matches && target.matches('input[name=pk][form="bulk-form"]')) {
      updateBulkBar();
    } else if (target.matches && target.matches("[data-bulk-action]")) {
      updateBulkTags();
    }
  });

  /* --- bulk edit: editing a field ticks its "change" box ------------------------------------- */
  function tickApply(event) {
    var form = event.target.closest && event.target.closest("#bulk-edit-form");
    if (!form || event.target.name === "_apply") { return; }
    var row = event.target.closest(".row");
    var box = row && row.querySelector("input[name=_apply]");
    if (box && !box.disabled) { box.checked = true; }
  }
  document.addEventListener("input", tickApply);
  document.addEventListener("change", tickApply);

  /* --- 更多 on a phone (.gx-more, a native disclosure): a tap outside it and its menu closes it, as
     a dropdown does; its menu is the element after it (generic/partials/more_toggle.html) -------- */
  document.addEventListener("click", function (event) {
    document.querySelectorAll("details.gx-more[open]").forEach(function (more) {
      var menu = more.nextElementSibling;
      if (!more.contains(event.target) && !(menu && menu.contains(event.target))) { more.open = false; }
    });
  });
  /* Escape closes it too and gives the focus back to 更多, unless a tool's own menu inside it is open:
     that one closes first. Bootstrap listens on the document while capturing, so this listens on the
     window while capturing, which comes before it: the tool's menu is still open when asked. */
  window.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") { return; }
    document.querySelectorAll("details.gx-more[open]").forEach(function (more) {
      var menu = more.nextElementSibling;
      if (menu && menu.querySelector(".dropdown-menu.show")) { return; }
      more.open = false;
      more.querySelector("summary").focus();
    });
  }, true);

  /* --- copy a value (the new API key) ------------------------------------------------------- */
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-copy-target]");
    if (!button) { return; }
    var field = document.querySelector(button.dataset.copyTarget);
    if (!field) { return; }
    field.select();
    var done = function () { button.textContent = button.dataset.copiedText || button.textContent; };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(done);
    } else {
      document.execCommand("copy");
      done();
    }
  });

  /* --- the column chooser sends one comma-separated "columns" value ------------------------- */
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-columns-form")) { return; }
    var boxes = Array.prototype.slice.call(form.querySelectorAll("input[type=checkbox][name=columns]"));
    var chosen = boxes.filter(function (box) { return box.checked; }).map(function (box) { return box.value; });
    boxes.forEach(function (box) { box.disabled = true; });
    var hidden = document.createElement("input");
    hidden.type = "hidden";
    hidden.name = "columns";
    hidden.value = chosen.join(",");
    form.appendChild(hidden);
  });

  /* --- tag chips under a record's tags input: a click adds the tag, or takes it out ---------- */
  /* The separators of parse_tags (core/forms.py). A tag holding one is in double quotes, a quote
     inside it doubled ("A, B Trading"), as core/list_cells.py reads and writes such names; quotes
     that do not read are left for the server, which names the problem. */
  var TAG_SEPARATORS = ",，;；\n";

  function isSeparator(text, at) { return TAG_SEPARATORS.indexOf(text.charAt(at)) >= 0; }

  function quotedTag(text, at) {  /* [name, index after its closing quote] for a quote at text[at] */
    var name = "";
    for (var from = at + 1; ;) {
      var close = text.indexOf('"', from);
      if (close < 0) { return [name + text.slice(from), text.length]; }
      name += text.slice(from, close);
      if (text.charAt(close + 1) !== '"') { return [name, close + 1]; }
      name += '"';
      from = close + 2;
    }
  }

  function tagNames(input) {
    var text = input.value, names = [], at = 0;
    while (at <= text.length) {
      var end = at, name;
      while (end < text.length && !isSeparator(text, end)) { end++; }
      var opening = text.slice(at, end).search(/\S/);
      if (opening >= 0 && text.charAt(at + opening) === '"') {
        var read = quotedTag(text, at + opening);
        name = read[0];
        end = read[1];
        while (end < text.length && !isSeparator(text, end)) { end++; }
      } else {
        name = text.slice(at, end);
      }
      name = name.trim();
      if (name && names.indexOf(name) < 0) { names.push(name); }
      at = end + 1;
    }
    return names;
  }

  function tagsText(names) {  /* tags_text (core/forms.py): a name that would not read back is quoted */
    return names.map(function (name) {
      var plain = name.charAt(0) !== '"' && !/[,，;；\n]/.test(name);
      return plain ? name : '"' + name.replace(/"/g, '""') + '"';
    }).join(", ");
  }

  /* A scoped tag (意向::高, core/tags.py): a record holds one of its scope. */
  function tagScope(name) {
    var at = name.indexOf("::");
    return at > 0 && at < name.length - 2 ? name.slice(0, at) : null;
  }

  function markTagChips(box) {
    var input = document.getElementById(box.dataset.tagChips);
    if (!input) { return; }
    var names = tagNames(input);
    box.querySelectorAll("[data-tag]").forEach(function (chip) {
      var on = names.indexOf(chip.dataset.tag) >= 0;
      chip.setAttribute("aria-pressed", on ? "true" : "false");
      chip.classList.toggle("bg-blue", on);
      chip.classList.toggle("text-white", on);
      chip.classList.toggle("bg-blue-lt", !on);
    });
  }

  document.addEventListener("click", function (event) {
    var chip = event.target.closest && event.target.closest("[data-tag-chips] [data-tag]");
    if (!chip) { return; }
    var box = chip.closest("[data-tag-chips]");
    var input = document.getElementById(box.dataset.tagChips);
    if (!input) { return; }
    var names = tagNames(input);
    var at = names.indexOf(chip.dataset.tag);
    if (at >= 0) {
      names.splice(at, 1);
    } else {
      var scope = tagScope(chip.dataset.tag);  /* 意向::中 takes 意向::高 out */
      if (scope) { names = names.filter(function (name) { return tagScope(name) !== scope; }); }
      names.push(chip.dataset.tag);
    }
    input.value = tagsText(names);
    markTagChips(box);
  });

  document.addEventListener("input", function (event) {
    var box = event.target.id && document.querySelector('[data-tag-chips="' + event.target.id + '"]');
    if (box) { markTagChips(box); }
  });

  /* "Add a note" at the top of a record's page: to the note box, with the cursor in it. */
  document.addEventListener("click", function (event) {
    var jump = event.target.closest && event.target.closest('a[href="#note-body"]');
    var box = jump && document.getElementById("note-body");
    if (box) {
      event.preventDefault();
      box.scrollIntoView({ block: "center" });
      box.focus({ preventScroll: true });
    }
  });

  /* A link that goes on with the list's filters (the account list's 客户分布): htmx changes them
   * without reloading the page, and the address bar follows (hx-push-url), so read them on click. */
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a[data-list-query]");
    if (link) {
      link.search = window.location.search;
    }
  });

  /* A record's page on a phone: one column of cards, the people and the timeline screens below the
   * fields. [data-gx-sections] gets a link to each titled card of the page (but the fields, which are
   * right there), built here so that every module's cards are listed without naming them. */
  function buildSections(nav) {
    if (nav.dataset.built) { return; }
    nav.dataset.built = "1";
    var cards = document.querySelectorAll("#main .card[id]");
    Array.prototype.forEach.call(cards, function (card) {
      var title = card.querySelector(":scope > .card-header .card-title");
      if (!title || card.id === nav.dataset.skip || card.parentElement.closest(".card")) { return; }
      var link = document.createElement("a");
      link.href = "#" + card.id;
      link.className = "btn btn-sm btn-ghost-secondary";
      link.textContent = title.textContent.trim();
      nav.appendChild(link);
    });
    nav.hidden = nav.children.length < 2;
  }

  function init() {
    document.querySelectorAll("[data-gx-sections]").forEach(buildSections);
    updateBulkBar();
    updateBulkTags();
    document.querySelectorAll("[data-tag-chips]").forEach(markTagChips);
  }

  document.addEventListener("DOMContentLoaded", init);
  document.addEventListener("htmx:afterSettle", init);
})();
