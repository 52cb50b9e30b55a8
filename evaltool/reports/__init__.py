"""Reports: documents read from the views and SQL functions (data), rendered with the
Jinja templates of reports/ into self-contained HTML or Markdown (render)."""
