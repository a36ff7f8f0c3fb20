"""The former path of the HTML report of a run, kept so that old imports work.

:func:`~oasisgen.cli.write_report` lives with the ``oasisgen`` command that writes
the run directories it reads, in :mod:`oasisgen.cli`. This module re-exports it
(the same object, not a copy), so ``from oasisgen.report import write_report``
keeps working. New code should import it from :mod:`oasisgen.cli`.
"""

from oasisgen.cli import MODEL_DIR, REPORT_NAME, write_report

__all__ = ["MODEL_DIR", "REPORT_NAME", "write_report"]
