// The reference frontend: a single-page app with client-side routes (/, /items, /items/<id>)
// that reads the reference API under /api/. No inline script or style: it runs under the
// edge's strict Content-Security-Policy.
const app = document.getElementById("app");

async function api(path) {
  const reply = await fetch(path, { headers: { Accept: "application/json" } });
  if (!reply.ok) {
    throw new Error(`${path}: ${reply.status}`);
  }
  return reply.json();
}

function show(...nodes) {
  app.replaceChildren(...nodes);
}

function text(tag, content, className) {
  const node = document.createElement(tag);
  node.textContent = content;
  if (className) {
    node.className = className;
  }
  return node;
}

async function render(path) {
  try {
    if (path === "/") {
      show(text("p", "The stack is up: this page came from the frontend, through the edge."));
    } else if (path === "/items") {
      const items = await api("/api/items");
      const list = document.createElement("ul");
      for (const item of items) {
        const link = text("a", item.name);
        link.href = `/items/${item.id}`;
        link.dataset.route = "";
        const entry = document.createElement("li");
        entry.append(link);
        list.append(entry);
      }
      show(text("h1", "Items"), list);
    } else if (path.startsWith("/items/")) {
      const item = await api(`/api${path}`);
      show(text("h1", item.name), text("pre", JSON.stringify(item, null, 2)));
    } else {
      show(text("h1", "Not found"), text("p", path));
    }
  } catch (error) {
    show(text("p", String(error), "error"));
  }
}

document.addEventListener("click", (event) => {
  const link = event.target.closest("a[data-route]");
  if (link) {
    event.preventDefault();
    history.pushState(null, "", link.getAttribute("href"));
    render(location.pathname);
  }
});
window.addEventListener("popstate", () => render(location.pathname));
render(location.pathname);
