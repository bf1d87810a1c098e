"""`make docs`: every notebook in nbs/, with its stored outputs, as a static HTML site (nbconvert; nbdev's own site needs
Quarto, which cannot be installed offline). `index.html` is the index notebook: its notebook map links to the pages.
Notebook names written as code (`11_compare`) or links to `.ipynb` files become links to the rendered pages, and every
page gets a bar with index / previous / next. Nothing is executed: the pages show what the notebooks store."""
import argparse, html, re, sys, time
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter

ROOT = Path(__file__).resolve().parent.parent
NAV_STYLE = ("position: sticky; top: 0; z-index: 10; padding: 6px 16px; background: #f3f5f7; border-bottom: 1px solid #d0d7de; "
             "font: 14px/1.4 system-ui, sans-serif")


def title_of(nb, stem: str) -> str:
    "The notebook's first level-1 heading, else its file name."
    for c in nb.cells:
        if c.cell_type == "markdown":
            m = re.search(r"^#\s+(.+)$", c.source, re.M)
            if m: return m.group(1).strip()
    return stem


def link_notebooks(body: str, stems: set) -> str:
    "Links to X.ipynb -> X.html; inline code naming a notebook (`X` or `X.ipynb`) -> a link to its page."
    body = re.sub(r'href="([\w.-]+)\.ipynb(#[^"]*)?"', lambda m: f'class="svq-nb-link" href="{m.group(1)}.html{m.group(2) or ""}"'
                  if m.group(1) in stems else m.group(0), body)
    def code(m):
        stem = m.group(1).removesuffix(".ipynb")
        return f'<a class="svq-nb-link" href="{stem}.html">{m.group(0)}</a>' if stem in stems else m.group(0)
    # only inline code that is not already inside a link
    parts = re.split(r"(<a\b.*?</a>)", body, flags=re.S)
    return "".join(p if p.startswith("<a") else re.sub(r"<code>([\w.-]+)</code>", code, p) for p in parts)


def nav(order: list, i: int, titles: dict) -> str:
    "The bar on top of page `order[i]`: index, previous and next."
    link = lambda s, label: f'<a href="{s}.html">{html.escape(label)}</a>'
    items = ["<b>svq_nb</b>", link("index", "index")]
    if i > 0: items.append(link(order[i - 1], f"← {order[i - 1]}"))
    if i + 1 < len(order): items.append(link(order[i + 1], f"{order[i + 1]} →"))
    return f'<nav class="svq-docs-nav" style="{NAV_STYLE}">' + " · ".join(items) + "</nav>"


def build(out: Path, nbs: Path = ROOT / "nbs") -> list:
    "Render every notebook of `nbs` to `out`/<name>.html; return the pages written."
    stems = sorted(p.stem for p in nbs.glob("*.ipynb"))
    if "index" not in stems: sys.exit(f"{nbs} has no index.ipynb: nothing to make the front page of")
    order = ["index"] + [s for s in stems if s != "index"]
    out.mkdir(parents=True, exist_ok=True)
    exporter = HTMLExporter(template_name="lab")
    nbs_read = {s: nbformat.read(nbs / f"{s}.ipynb", as_version=4) for s in order}
    titles = {s: title_of(nb, s) for s, nb in nbs_read.items()}
    pages = []
    for i, stem in enumerate(order):
        body, _ = exporter.from_notebook_node(nbs_read[stem], resources={"metadata": {"name": f"{stem}: {titles[stem]}"}})
        body = link_notebooks(body, set(stems))
        body = re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + nav(order, i, titles), body, count=1)
        page = out / f"{stem}.html"
        page.write_text(body, encoding="utf-8")
        pages.append(page)
    return pages


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "_docs"), help="folder to write (default _docs/)")
    ap.add_argument("--nbs", default=str(ROOT / "nbs"), help="folder of notebooks to render (default nbs/)")
    args = ap.parse_args()
    t0 = time.time()
    pages = build(Path(args.out), Path(args.nbs))
    print(f"wrote {len(pages)} pages to {args.out} in {time.time() - t0:.0f} s; open {Path(args.out) / 'index.html'}")
