#include "tests/support/test_ca.h"

#include <stdexcept>
#include <vector>

#include "tests/support/process.h"

namespace walstream::test {

namespace {

void runOpenssl(const std::vector<std::string>& args, const std::string& logPrefix,
                const std::string& stdinText = "") {
  std::vector<std::string> argv = {"/usr/bin/openssl"};
  argv.insert(argv.end(), args.begin(), args.end());
  const RunResult r = runToCompletion(argv, logPrefix, std::chrono::seconds(30), stdinText);
  if (r.exitCode != 0) {
    throw std::runtime_error("openssl " + args.front() + " failed: " + r.err + r.out);
  }
}

// A P-256 key and a certificate signing request for `file` (the CN is the file's name).
void makeKeyAndRequest(const std::string& dir, const std::string& file) {
  runOpenssl({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
              dir + "/" + file + ".key", "-out", dir + "/" + file + ".csr", "-subj", "/CN=" + file},
             dir + "/" + file + "-req");
}

}  // namespace

TestCa::TestCa(const std::string& dir, const std::string& name)
    : dir_(dir), caCert_(dir + "/" + name + "-ca.pem"), caKey_(dir + "/" + name + "-ca.key") {
  runOpenssl(
      {"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
       caKey_, "-out", caCert_, "-days", "2", "-subj", "/CN=" + name + " test CA", "-addext",
       "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"},
      dir + "/" + name + "-ca");
}

IssuedCertificate TestCa::issue(const std::string& file, const std::string& altNames,
                                int days) const {
  makeKeyAndRequest(dir_, file);
  runOpenssl({"x509", "-req", "-in", dir_ + "/" + file + ".csr", "-CA", caCert_, "-CAkey", caKey_,
              "-CAcreateserial", "-out", dir_ + "/" + file + ".pem", "-days", std::to_string(days),
              "-extfile", "/dev/stdin"},
             dir_ + "/" + file + "-sign", "subjectAltName=" + altNames + "\n");
  return {dir_ + "/" + file + ".pem", dir_ + "/" + file + ".key"};
}

IssuedCertificate selfSignedCertificate(const std::string& dir, const std::string& file) {
  runOpenssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
              "-keyout", dir + "/" + file + ".key", "-out", dir + "/" + file + ".pem", "-days", "2",
              "-subj", "/CN=" + file, "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"},
             dir + "/" + file);
  return {dir + "/" + file + ".pem", dir + "/" + file + ".key"};
}

}  // namespace walstream::test
