"""Importing records from CSV and XLSX files as background jobs.

``specs`` (what a type can import; modules register an ``ImportSpec``), ``reading`` (encodings,
CSV and XLSX streaming), ``mapping`` (header matching), ``bulk`` + ``bulk_sqlite`` /
``bulk_postgres`` (the raw write path), ``runner`` (the job), ``services`` (create, start, describe),
``api`` (``/api/v1/imports``) and ``views`` (the upload, mapping and progress pages).
"""
