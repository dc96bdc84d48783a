"""Make a throw-away test PKI: a self-signed CA, a server certificate for 127.0.0.1 /
localhost and a client certificate, both signed by the CA (PEM files, keys unencrypted).

The tests call :func:`make_certs` at run time into a temporary directory, so nothing is
stored in the tree and nothing expires. It uses the ``cryptography`` package when it is
installed and the ``openssl`` command line tool otherwise; :func:`make_certs` returns None
when neither is available (the TLS tests then skip). As a script::

    python tests/certs/make_certs.py OUT_DIR
"""

from __future__ import annotations

import datetime
import ipaddress
import shutil
import ssl
import subprocess
import sys
from pathlib import Path

NAMES = ("ca", "server", "client")
TIMEOUT = 60.0


def make_certs(out_dir: str | Path) -> dict[str, Path] | None:
    """Write ``ca.pem``, ``server.pem``/``server.key``, ``client.pem``/``client.key`` into
    ``out_dir``; return their paths (keys ``ca``, ``server_cert``, ``server_key``,
    ``client_cert``, ``client_key``), or None when no tool can make them."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "ca": out / "ca.pem",
        "ca_key": out / "ca.key",
        "server_cert": out / "server.pem",
        "server_key": out / "server.key",
        "client_cert": out / "client.pem",
        "client_key": out / "client.key",
    }
    try:
        import cryptography  # noqa: F401
    except ImportError:
        if shutil.which("openssl") is None:
            return None
        _with_openssl(out, paths)
    else:
        _with_cryptography(paths)
    return paths


def server_context(paths: dict[str, Path], require_client: bool = True) -> ssl.SSLContext:
    """A TLS server context with the server certificate; with ``require_client``, client
    certificates signed by the test CA are required."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(paths["server_cert"], paths["server_key"])
    if require_client:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(paths["ca"])
    return ctx


def client_context(paths: dict[str, Path], with_ca: bool = True) -> ssl.SSLContext:
    """A TLS client context with the client certificate that verifies the server (and its
    host name) against the test CA, or, without ``with_ca``, against the system CAs only."""
    ctx = ssl.create_default_context(cafile=paths["ca"] if with_ca else None)
    ctx.load_cert_chain(paths["client_cert"], paths["client_key"])
    return ctx


def _with_cryptography(paths: dict[str, Path]) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
        path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = name("dicomul test CA")
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    write_key(ca_key, paths["ca_key"])

    for who, usage in (
        ("server", ExtendedKeyUsageOID.SERVER_AUTH),
        ("client", ExtendedKeyUsageOID.CLIENT_AUTH),
    ):
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            x509.CertificateBuilder()
            .subject_name(name(f"dicomul test {who}"))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        )
        if who == "server":
            builder = builder.add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
                ),
                critical=False,
            )
        cert = builder.sign(ca_key, hashes.SHA256())
        paths[f"{who}_cert"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        write_key(key, paths[f"{who}_key"])


def _with_openssl(out: Path, paths: dict[str, Path]) -> None:
    def run(*args: str) -> None:
        subprocess.run(
            ["openssl", *args], check=True, capture_output=True, timeout=TIMEOUT, cwd=out
        )

    run(
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        str(paths["ca_key"]),
        "-out",
        str(paths["ca"]),
        "-days",
        "2",
        "-subj",
        "/CN=dicomul test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE,pathlen:0",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    )
    for who, ext in (
        ("server", "extendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n"),
        ("client", "extendedKeyUsage=clientAuth\n"),
    ):
        csr = out / f"{who}.csr"
        extfile = out / f"{who}.ext"
        extfile.write_text("basicConstraints=CA:FALSE\n" + ext)
        run(
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(paths[f"{who}_key"]),
            "-out",
            str(csr),
            "-subj",
            f"/CN=dicomul test {who}",
        )
        run(
            "x509",
            "-req",
            "-in",
            str(csr),
            "-CA",
            str(paths["ca"]),
            "-CAkey",
            str(paths["ca_key"]),
            "-CAcreateserial",
            "-days",
            "1",
            "-out",
            str(paths[f"{who}_cert"]),
            "-extfile",
            str(extfile),
        )


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    paths = make_certs(args[0])
    if paths is None:
        print("neither the cryptography package nor openssl is available", file=sys.stderr)
        return 1
    for k, p in paths.items():
        print(f"{k}: {p}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
