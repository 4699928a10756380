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

// A form shown again with errors: move focus to its error summary, so a
// keyboard or screen reader user starts from the list of problems.
document.addEventListener("DOMContentLoaded", () => {
  const summary = document.querySelector(".error-summary");
  if (summary) summary.focus();
});
