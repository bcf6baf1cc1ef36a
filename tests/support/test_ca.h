// A certificate authority made by a test, with the `openssl` command: its certificate and key
// in a directory the test owns, and server certificates it signs (or that sign themselves), for
// TLS between the real binaries on 127.0.0.1.
#pragma once

#include <string>

namespace walstream::test {

struct IssuedCertificate {
  std::string cert;  // PEM certificate file
  std::string key;   // PEM private key file
};

class TestCa {
 public:
  // Makes the CA's key and self-signed certificate as DIR/NAME-ca.pem and DIR/NAME-ca.key.
  // Throws std::runtime_error with openssl's output when it fails.
  TestCa(const std::string& dir, const std::string& name);

  const std::string& caFile() const { return caCert_; }

  // A server certificate DIR/FILE.pem (key DIR/FILE.key) signed by this CA, for the
  // subjectAltName `altNames` (openssl's spelling), valid for `days` days from now; a negative
  // `days` makes one that has already expired.
  IssuedCertificate issue(const std::string& file,
                          const std::string& altNames = "IP:127.0.0.1,DNS:localhost",
                          int days = 2) const;

 private:
  std::string dir_;
  std::string caCert_, caKey_;
};

// A certificate for 127.0.0.1 and localhost that signs itself: trusted by no one.
IssuedCertificate selfSignedCertificate(const std::string& dir, const std::string& file);

}  // namespace walstream::test
