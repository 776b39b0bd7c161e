"""TLS for a federation across machines, with certificates made here, offline (``cryptography``).

The host makes a private certificate authority once and a server certificate for the addresses the sites will dial
(IP addresses and host names, as subject alternative names); its SuperLink serves Fleet, Control and Runtime APIs
over TLS with them (``--ssl-ca-certfile/--ssl-certfile/--ssl-keyfile``). Each site receives ``ca.pem`` by a channel
it trusts (not over the federation's own port) and gives it to its SuperNode (``--root-certificates``): the
connection is then encrypted and the site knows it talks to the holder of the host's key. TLS does not tell the
host who a site is; Flower's SuperNode authentication (``--enable-supernode-auth`` with registered node keys) would,
and is not wired here yet.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
from dataclasses import dataclass
from pathlib import Path

CA_FILE = "ca.pem"
CERT_FILE = "server.pem"
KEY_FILE = "server.key"


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """The host's TLS files (``ca.pem`` is what a site needs; ``server.key`` never leaves the host)."""

    ca: Path
    cert: Path
    key: Path

    @classmethod
    def in_folder(cls, folder: Path) -> TlsFiles:
        return cls(folder / CA_FILE, folder / CERT_FILE, folder / KEY_FILE)

    def exist(self) -> bool:
        return self.ca.exists() and self.cert.exists() and self.key.exists()


def ca_fingerprint(ca_pem: Path) -> str:
    """SHA-256 of the CA certificate (DER), as colon-separated hex: read it out to the sites to compare."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    der = x509.load_pem_x509_certificate(ca_pem.read_bytes()).public_bytes(Encoding.DER)
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def make_certificates(folder: Path, names: list[str], days: int = 365) -> TlsFiles:
    """A CA and a server certificate for ``names`` (IP addresses or DNS names) in ``folder`` (key files 0600)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    if not names:
        raise ValueError("a server certificate needs at least one address or host name")
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP384R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Privacy Workbench federation CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
        .sign(ca_key, hashes.SHA384())
    )
    key = ec.generate_private_key(ec.SECP384R1())
    alt: list[x509.GeneralName] = []
    for name in names:
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alt.append(x509.DNSName(name))
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA384())
    )
    files = TlsFiles.in_folder(folder)
    files.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    files.key.touch(mode=0o600)
    files.key.write_bytes(pem)
    files.key.chmod(0o600)
    return files
