// Keyboard shortcuts for the review queue, confirmations for destructive forms.
// Loaded as a file (the Content-Security-Policy allows no inline script).
(function () {
  "use strict";

  function typing(target) {
    return target instanceof HTMLElement &&
      (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }

  function toggleHelp(show) {
    var help = document.getElementById("help");
    if (!help) return;
    help.hidden = show === undefined ? !help.hidden : !show;
  }

  function openPanel(id, selector) {
    var panel = document.getElementById(id);
    if (!panel) return;
    panel.open = true;
    var field = panel.querySelector(selector);
    if (field) { field.focus(); }
    panel.scrollIntoView({ block: "nearest" });
  }

  function rows() { return Array.prototype.slice.call(document.querySelectorAll("table.queue tbody tr")); }

  function moveSelection(step) {
    var all = rows();
    if (!all.length) return false;
    var index = all.findIndex(function (r) { return r.classList.contains("selected"); });
    var next = Math.max(0, Math.min(all.length - 1, index + step));
    if (index === -1) next = step > 0 ? 0 : all.length - 1;
    all.forEach(function (r) { r.classList.remove("selected"); });
    all[next].classList.add("selected");
    all[next].scrollIntoView({ block: "nearest" });
    return true;
  }

  function follow(key) {
    var link = document.querySelector('a[data-key="' + key + '"]');
    if (link) { window.location.assign(link.getAttribute("href")); }
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "Escape") {
      toggleHelp(false);
      if (typing(event.target)) { event.target.blur(); }
      return;
    }
    if (typing(event.target)) return;
    var onQueue = document.querySelector("table.queue") !== null;
    switch (event.key) {
      case "?": toggleHelp(); break;
      case "j": if (!(onQueue && moveSelection(1))) { follow("j"); } break;
      case "k": if (!(onQueue && moveSelection(-1))) { follow("k"); } break;
      case "Enter": {
        var row = document.querySelector("table.queue tr.selected");
        if (!row) return;
        window.location.assign(row.getAttribute("data-href"));
        break;
      }
      case "a": {
        var approve = document.getElementById("approve-form");
        if (!approve) return;
        approve.requestSubmit();
        break;
      }
      case "e": openPanel("edit", "textarea"); break;
      case "g": openPanel("regenerate", "input[name=instruction]"); break;
      case "r": openPanel("reject", "input[name=reason]"); break;
      default: return;
    }
    event.preventDefault();
  });

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (target instanceof Element && target.closest("[data-help]")) {
      toggleHelp();
    } else if (target instanceof Element && target.id === "help") {
      toggleHelp(false);
    }
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement)) return;
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) { event.preventDefault(); }
  }, true);
})();
