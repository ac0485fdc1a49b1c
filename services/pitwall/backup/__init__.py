"""Backups and exports: the race data off the SD card.

``archive``  the backup archive: an online SQLite snapshot, settings without secrets and
             a manifest with checksums; verify and stage a restore.
``export``   results for other tools: CSV per race and one JSON document of everything.
``usb``      automatic backups to a USB stick (udev starts ``pitwall backup usb``), rotated.
``main``     the ``pitwall backup`` command.
"""
