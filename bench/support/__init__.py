"""What the benchmarks share: Django set up on a database of their own, local stand-ins (an HTTP
source, Postmark's API, django-newsletter), gunicorn and Celery processes. Benchmarks run as
files (`python bench/web.py`), which puts bench/ first on sys.path: they import these modules as
`support.<name>`."""
