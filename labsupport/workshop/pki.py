"""The workshop's own certificates: a CA, the token signer it certifies, and a TLS certificate for the services.

All keys are ECDSA P-256. The registry trusts the CA (its `rootcertbundle`) and checks each token's `x5c` chain
(signer first, CA last) against it; learners' Docker engines trust the CA for TLS through
`/etc/docker/certs.d/<host:port>/ca.crt`. Private keys are written 0600 and never leave the workshop folder.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from .accounts import write_private

CA_DAYS = 730
LEAF_DAYS = 365


@dataclass(frozen=True)
class KeyPair:
    """A private key and the certificate for it."""

    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    def save(self, cert_path: Path, key_path: Path) -> None:
        cert_path.parent.mkdir(parents=True, exist_ok=True)
        cert_path.write_bytes(self.cert_pem)
        write_private(key_path, self.key_pem.decode("ascii"))

    @classmethod
    def load(cls, cert_path: Path, key_path: Path) -> KeyPair:
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise TypeError(f"{key_path} is not an ECDSA key")
        return cls(key, x509.load_pem_x509_certificate(cert_path.read_bytes()))


def fingerprint(cert: x509.Certificate) -> str:
    """The SHA-256 fingerprint as openssl prints it (AA:BB:…), for learners to compare by eye."""
    digest = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest().upper()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "labsupport workshop"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _builder(subject: str, issuer: x509.Name, public_key, days: int) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.timezone.utc)
    return (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(issuer).public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=days)))


def make_ca(workshop: str) -> KeyPair:
    """A self-signed CA that may sign certificates (and nothing below them may)."""
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (_builder(f"{workshop} CA", _name(f"{workshop} CA"), key.public_key(), CA_DAYS)
               .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                            content_commitment=False, key_encipherment=False,
                                            data_encipherment=False, key_agreement=False, encipher_only=False,
                                            decipher_only=False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))
    return KeyPair(key, builder.sign(key, hashes.SHA256()))


def _leaf(ca: KeyPair, subject: str) -> tuple[ec.EllipticCurvePrivateKey, x509.CertificateBuilder]:
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (_builder(subject, ca.cert.subject, key.public_key(), LEAF_DAYS)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
                              critical=False))
    return key, builder


def make_token_signer(ca: KeyPair, workshop: str) -> KeyPair:
    """The key that signs registry tokens. No extended key usage: Go's chain check then accepts any use."""
    key, builder = _leaf(ca, f"{workshop} token signer")
    builder = builder.add_extension(
        x509.KeyUsage(digital_signature=True, key_cert_sign=False, crl_sign=False, content_commitment=False,
                      key_encipherment=False, data_encipherment=False, key_agreement=False,
                      encipher_only=False, decipher_only=False), critical=True)
    return KeyPair(key, builder.sign(ca.key, hashes.SHA256()))


def make_server_cert(ca: KeyPair, hosts: Iterable[str]) -> KeyPair:
    """A TLS server certificate for the registry, token server and dashboard under every name in `hosts`."""
    names: list[x509.GeneralName] = []
    for host in dict.fromkeys(hosts):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    first = next(iter(dict.fromkeys(hosts)))
    key, builder = _leaf(ca, first)
    builder = (builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
               .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False))
    return KeyPair(key, builder.sign(ca.key, hashes.SHA256()))


def cert_hosts(cert: x509.Certificate) -> set[str]:
    """The DNS names and IP addresses a certificate is valid for."""
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    return {str(v) for v in names.get_values_for_type(x509.DNSName)} | {
        str(v) for v in names.get_values_for_type(x509.IPAddress)}
