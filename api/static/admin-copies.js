// "Is this photo a copy of ours?": sends the chosen photo and lists the catalogue photos it copies.
(() => {
  "use strict";
  const form = document.getElementById("copies-form");
  const table = document.getElementById("copies-found");
  const status = document.getElementById("copies-status");
  const token = () => document.querySelector('meta[name="csrf-token"]').content;

  function cell(row, content) {
    const td = document.createElement("td");
    if (content instanceof Node) td.append(content); else td.textContent = content;
    row.append(td);
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    status.textContent = "Looking…";
    const response = await fetch("/admin/api/copies", { method: "POST", headers: { "X-CSRF-Token": token() }, body: new FormData(form) });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) { status.textContent = answer.error ? answer.error.message : `The server answered ${response.status}.`; return; }
    const body = table.querySelector("tbody");
    body.replaceChildren();
    for (const copy of answer.copies) {
      const row = document.createElement("tr");
      const img = document.createElement("img");
      img.src = `/thumbnails/${encodeURIComponent(copy.image_fingerprint)}`; img.alt = ""; img.width = 64; img.height = 64;
      const link = document.createElement("a");
      link.href = `/admin/catalogue/${encodeURIComponent(copy.product_id)}`; link.textContent = copy.title || copy.product_id;
      cell(row, img); cell(row, link); cell(row, copy.brand || "–");
      cell(row, String(copy.hash_distance)); cell(row, copy.similarity.toFixed(3)); cell(row, String(copy.keypoints)); cell(row, copy.reason);
      body.append(row);
    }
    table.hidden = answer.copies.length === 0;
    status.textContent = answer.copies.length ? `${answer.copies.length} catalogue photo(s) look copied.` : "No catalogue photo looks copied.";
  });
})();
