"""One message's bytes: headers written so data stays data, built, then read back and checked.

``messages`` builds an approved message, ``headers`` writes address and subject fields by hand,
and ``check`` parses the bytes back as a mail program would and refuses any difference.
"""
