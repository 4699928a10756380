// Progressive enhancement only: every page works without this file.

// Filter forms marked data-autosubmit submit when a select changes. The
// listener sits on the document, not on the selects: htmx swaps replace the
// form (risk list: the whole #risk-list), and a listener bound to the old
// selects would be lost after the first update.
document.addEventListener("change", (event) => {
  const select = event.target;
  if (!(select instanceof HTMLSelectElement)) return;
  const form = select.form;
  if (form && form.hasAttribute("data-autosubmit")) form.requestSubmit();
});

// A form shown again with errors: move focus to the first problem, so a
// keyboard or screen reader user starts from it instead of the page's top.
// The error summary of a long form lists every problem with a link to its
// field; a short form's own message comes next; else the first field in error.
function focusFirstProblem(root) {
  const summary = root.querySelector(".error-summary");
  if (summary) {
    summary.focus();
    return;
  }
  const message = root.querySelector("form .form-errors");
  if (message) {
    message.setAttribute("tabindex", "-1");
    message.focus();
    return;
  }
  const field = root.querySelector(
    ".field-invalid input:not([type=hidden]), .field-invalid select, .field-invalid textarea",
  );
  if (field) field.focus();
}

document.addEventListener("DOMContentLoaded", () => focusFirstProblem(document));

// The same after htmx swaps in a block answered with errors (a note, a task,
// an agenda item's note or action).
document.addEventListener("htmx:afterSettle", (event) => {
  const swapped = event.detail.elt;
  if (swapped instanceof Element && swapped.isConnected) focusFirstProblem(swapped);
});

// Enter in a search box that updates its list in place (data-search-in-place)
// searches in place too, instead of submitting its form and reloading the
// page: focus and whatever else was typed stay where they are.
document.addEventListener("keydown", (event) => {
  const input = event.target;
  if (event.key !== "Enter" || !(input instanceof HTMLInputElement)) return;
  if (!input.hasAttribute("data-search-in-place") || typeof htmx === "undefined") return;
  event.preventDefault();
  htmx.trigger(input, "search");
});
