// The rule editor (templates/rules/_editor.html). Progressive enhancement
// only: without this file every parameter of a condition row shows, and the
// server ignores the ones the row's type does not take.
//
// Each row (fieldset[data-condition]) has a type menu (select
// [data-condition-type]) and one wrapper per parameter ([data-param]). The
// parameters each type takes come from the rows' container
// (data-condition-params, JSON: {"band_is": ["band"], …}); the others are
// hidden. The listeners sit on the document: htmx swaps the whole editor
// when a preview comes back.

(() => {
  function parametersOf(row, type) {
    const container = row.closest("[data-condition-params]");
    if (!container || !type) return [];
    try {
      return JSON.parse(container.dataset.conditionParams)[type] || [];
    } catch {
      return null;
    }
  }

  function update(row) {
    const select = row.querySelector("select[data-condition-type]");
    if (!select) return;
    const wanted = parametersOf(row, select.value);
    if (wanted === null) return; // unreadable: leave every parameter shown
    row.querySelectorAll("[data-param]").forEach((wrapper) => {
      wrapper.hidden = !wanted.includes(wrapper.dataset.param);
    });
  }

  function updateAll(root) {
    root.querySelectorAll("[data-condition]").forEach(update);
  }

  document.addEventListener("change", (event) => {
    const select = event.target;
    if (!(select instanceof HTMLSelectElement) || !select.hasAttribute("data-condition-type")) {
      return;
    }
    const row = select.closest("[data-condition]");
    if (row) update(row);
  });

  document.addEventListener("DOMContentLoaded", () => updateAll(document));
  document.addEventListener("htmx:afterSwap", () => updateAll(document));
})();
