"""The admin console and the storefront widget's server: static files plus live updates (SSE)."""
