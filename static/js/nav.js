// Progressive enhancement only: without this file the full navigation shows.
//
// On a narrow screen (app.css: .nav-collapsible under 700px) the links fold
// behind the Menu button, so the header takes one line. The button says
// whether the menu is open (aria-expanded) and which element it opens
// (aria-controls); Escape closes the open menu and returns focus to it. On a
// wide screen the button is not shown and the links always are.

(() => {
  const nav = document.querySelector("[data-nav]");
  const button = nav && nav.querySelector(".nav-toggle");
  const menu = button && document.getElementById(button.getAttribute("aria-controls"));
  if (!menu) return;

  const setOpen = (open) => {
    button.setAttribute("aria-expanded", String(open));
    nav.classList.toggle("nav-open", open);
  };

  setOpen(false);
  nav.classList.add("nav-collapsible");
  button.hidden = false;

  button.addEventListener("click", () => {
    setOpen(button.getAttribute("aria-expanded") !== "true");
  });

  nav.addEventListener("keydown", (event) => {
    if (event.key !== "Escape" || !nav.classList.contains("nav-open")) return;
    // Only where the button is shown: on a wide screen Escape does nothing here.
    if (button.getClientRects().length === 0) return;
    setOpen(false);
    button.focus();
  });
})();
