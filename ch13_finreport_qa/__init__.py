"""Chapter 13: the annual-report field database, natural-language questions over it, financial warnings, scoring."""
