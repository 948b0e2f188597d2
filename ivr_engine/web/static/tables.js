"use strict";
// Tables marked data-source fill themselves from the dashboard's JSON API (the same data outside
// tools read). A click on a header sorts; an input with data-filter-for filters the rows.
// Every value is set with textContent, never as HTML: node titles and callers are untrusted.
(function () {
  function format(value, type) {
    if (value === null || value === undefined) return "–";
    switch (type) {
      case "pct": return (value * 100).toFixed(1) + " %";
      case "seconds": return value.toFixed(1) + " s";
      case "elapsed": {
        const seconds = Math.max(0, Math.round((Date.now() - Date.parse(value)) / 1000));
        const two = (n) => String(n).padStart(2, "0");
        if (seconds >= 3600) return Math.floor(seconds / 3600) + "h " + two(Math.floor(seconds / 60) % 60) + "m";
        return Math.floor(seconds / 60) + "m " + two(seconds % 60) + "s";
      }
      case "num": return Number(value).toLocaleString("en");
      default: return String(value);
    }
  }

  function sortKey(value, type) {
    if (value === null || value === undefined) return -Infinity;
    if (type === "elapsed") return -Date.parse(value);
    return type === "text" ? String(value).toLowerCase() : Number(value);
  }

  function setup(table) {
    const columns = Array.from(table.tHead.rows[0].cells).map((th) => ({
      th: th, key: th.dataset.key, type: th.dataset.type || "text",
    }));
    const body = table.tBodies[0];
    const filter = document.querySelector('[data-filter-for="' + table.id + '"]');
    const status = document.querySelector('[data-status-for="' + table.id + '"]');
    let rows = [];
    let order = { key: table.dataset.sortKey || null, descending: table.dataset.sortDir !== "asc" };

    function render() {
      const column = columns.find((c) => c.key === order.key);
      const sorted = rows.slice();
      if (column) {
        sorted.sort((a, b) => {
          const x = sortKey(a[column.key], column.type);
          const y = sortKey(b[column.key], column.type);
          const cmp = x < y ? -1 : x > y ? 1 : 0;
          return order.descending ? -cmp : cmp;
        });
      }
      const needle = filter ? filter.value.trim().toLowerCase() : "";
      const fragment = document.createDocumentFragment();
      let shown = 0;
      for (const row of sorted) {
        const texts = columns.map((c) => format(row[c.key], c.type));
        if (needle && !texts.join(" ").toLowerCase().includes(needle)) continue;
        const tr = document.createElement("tr");
        tr.dataset.id = String(row[table.dataset.rowKey]);
        texts.forEach((text, i) => {
          const td = document.createElement("td");
          td.textContent = text;
          if (columns[i].type !== "text") td.className = "number";
          tr.appendChild(td);
        });
        fragment.appendChild(tr);
        shown += 1;
      }
      body.replaceChildren(fragment);
      for (const c of columns) {
        c.th.setAttribute("aria-sort", c.key !== order.key ? "none" : order.descending ? "descending" : "ascending");
      }
      if (status) status.textContent = shown + " of " + rows.length + " " + (table.dataset.noun || "rows");
    }

    async function load() {
      try {
        const response = await fetch(table.dataset.source, { headers: { Accept: "application/json" } });
        if (!response.ok) throw new Error("HTTP " + response.status);
        rows = (await response.json())[table.dataset.rowsField || "rows"];
        render();
        table.dataset.state = "ready";
      } catch (error) {
        table.dataset.state = "error";
        if (status) status.textContent = "Could not load: " + error.message;
      }
    }

    for (const c of columns) {
      c.th.tabIndex = 0;
      const toggle = () => {
        order = { key: c.key, descending: order.key === c.key ? !order.descending : c.type !== "text" };
        render();
      };
      c.th.addEventListener("click", toggle);
      c.th.addEventListener("keydown", (e) => { if (e.key === "Enter") toggle(); });
    }
    if (filter) filter.addEventListener("input", render);
    load();
    const refresh = Number(table.dataset.refreshSeconds || 0);
    if (refresh > 0) setInterval(load, refresh * 1000);
  }

  document.querySelectorAll("table[data-source]").forEach(setup);
})();
