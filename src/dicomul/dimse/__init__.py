"""PS3.7, sans-IO: DIMSE command sets and messages, status codes, SOP classes and the UID
policy. Above ``dicomul.ul``; knows nothing of files, sockets or pydicom.
"""
