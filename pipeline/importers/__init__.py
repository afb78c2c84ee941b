"""Importers: turn a practice's REDCap or FHIR export into a contract batch folder that `refresh` loads as usual.

An importer only translates; every rule on the data stays in validation, so an imported batch is judged exactly
like a hand-written one. What an importer cannot translate is never dropped silently: it is counted per reason
in an `ImportReport`, and the run exits 1 so a human looks. Identifiers in the source (names, record numbers,
birth dates, contact details) are never carried over: a source holding them is refused unless the pseudonym
field is named, and then they are left behind.
"""
