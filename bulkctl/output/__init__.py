"""Everything a person or a program reads on stdout: every format from one path (``render``).
Text from the server is made safe by ``bulkctl.safetext``, below every layer."""
