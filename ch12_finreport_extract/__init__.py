"""Chapter 12: annual reports — ChatGLM3-6B-32K, the report database, structured extraction from one report.

Importable API (chapter 13 builds its field database on it)::

    from ch12_finreport_extract.extract_report import extract_report      # (path, llm=None) -> dict
    from ch12_finreport_extract.alltxt import read_alltxt, parse_report_name, parse_excel_row
    from ch12_finreport_extract.tables import rebuild_table_rows, find_sections
    from ch12_finreport_extract.fields import FIELDS, field_names
"""
