"""Candidates: import and validate files (``files``, ``rows``), look up, suppress and forget.

``records`` owns the candidate rows and the suppression list every sender consults.
"""
