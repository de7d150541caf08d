// Submit the search form when the mode or the sort order changes (the Search button does the same
// without JavaScript). Nothing else on the page needs a script.
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("search-form");
  if (!form) return;
  form.querySelectorAll("[data-autosubmit]").forEach((control) => {
    control.addEventListener("change", () => {
      if (form.elements.q && form.elements.q.value.trim()) form.requestSubmit();
    });
  });
});
