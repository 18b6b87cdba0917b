"""on_pty.py OUT CMD...: runs CMD with stdin, stdout and stderr on a fresh pseudo-terminal of
80x24 and writes everything it printed into OUT; exits with CMD's status.  For tests of what
plate draws on a terminal (progress displays)."""
import fcntl
import os
import pty
import struct
import sys
import termios

out = open(sys.argv[1], "wb")
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
while True:
    try:
        data = os.read(fd, 65536)
    except OSError:
        break
    if not data:
        break
    out.write(data)
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
