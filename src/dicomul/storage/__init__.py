"""Part 10 files and data sets: reading without decoding, the atomic writer and safe
names, data set encoding and transcoding (pydicom lives here and above). Above
``dicomul.dimse``; no sockets or threads.
"""
