package cli

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

const certUsage = `midge cert: make the CA, server and client certificates a small TLS
deployment needs, in files that mosquitto and its clients load as they are.

Usage: midge cert --dir DIR [--host NAME_OR_IP]... [--force]
       midge cert --dir DIR --client NAME [--force]

  --dir DIR       where the files go; created with mode 0755 if missing
  --host NAME     a DNS name or IP address clients reach the broker by; repeat it
                  (default: this host's name, localhost, 127.0.0.1 and ::1)
  --client NAME   write NAME.crt and NAME.key instead: a client certificate whose
                  common name is NAME
  --force         replace an existing server or client key and certificate
  --help          this text

The CA (DIR/ca.crt and DIR/ca.key) is made by the first run and used by every
later one; --force never replaces it. Certificates are mode 0644, so that any
user's client can read ca.crt; keys are ECDSA P-256 in PKCS#8 PEM, mode 0600.
The CA is valid for 10 years, server and client certificates for 825 days.
`

// Validity periods. 825 days is the longest that Apple's platforms accept
// for a TLS server certificate, whatever CA issued it; client certificates
// get the same so that one renewal date fits all.
const (
	caValidityYears = 10
	leafValidity    = 825 * 24 * time.Hour
	backdate        = time.Hour // NotBefore, for clocks a little behind
)

// certFlags are midge cert's parsed flags.
type certFlags struct {
	dir    string
	hosts  stringList
	client string
	force  bool
}

func parseCert(args []string) (*certFlags, error) {
	cf := &certFlags{}
	fs := flag.NewFlagSet("midge cert", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	var help bool
	fs.StringVar(&cf.dir, "dir", "", "")
	fs.Var(&cf.hosts, "host", "")
	fs.StringVar(&cf.client, "client", "", "")
	fs.BoolVar(&cf.force, "force", false, "")
	fs.BoolVar(&help, "help", false, "")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	switch {
	case help:
		return nil, errHelp
	case fs.NArg() > 0:
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case cf.dir == "":
		return nil, errors.New("--dir is required")
	case cf.client != "" && len(cf.hosts) > 0:
		return nil, errors.New("--host is for the server certificate; leave it out with --client")
	}
	if cf.client != "" {
		if err := checkClientName(cf.client); err != nil {
			return nil, err
		}
	}
	for _, h := range cf.hosts {
		if err := checkHost(h); err != nil {
			return nil, err
		}
	}
	return cf, nil
}

// checkClientName accepts a name that is both a file name in DIR and a
// common name, and that does not clash with the CA's or server's files.
func checkClientName(name string) error {
	switch {
	case name == "ca" || name == "server":
		return fmt.Errorf("--client %q would replace the %s's files; choose another name", name, name)
	case strings.ContainsAny(name, `/\`) || strings.HasPrefix(name, "."):
		return fmt.Errorf("--client %q: the name becomes a file name, so it cannot hold / or \\ or start with a dot", name)
	case !utf8.ValidString(name) || strings.ContainsRune(name, 0) || len(name) > 64:
		return fmt.Errorf("--client %q: a common name is UTF-8 text of at most 64 bytes", name)
	}
	return nil
}

// checkHost accepts an IP address or something shaped like a DNS name.
func checkHost(h string) error {
	if net.ParseIP(h) != nil {
		return nil
	}
	if h == "" || len(h) > 253 || strings.ContainsAny(h, " \t/:[]@") {
		return fmt.Errorf("--host %q is neither an IP address nor a DNS name", h)
	}
	for _, r := range h {
		if r >= utf8.RuneSelf {
			return fmt.Errorf("--host %q: write an international name in its ASCII (xn--) form", h)
		}
	}
	return nil
}

// Cert is `midge cert`: it writes a CA (once), a server certificate for
// the given names, or a client certificate, and prints the mosquitto.conf
// lines that use them. It returns 0, or 1 for a usage or file error.
func Cert(ctx context.Context, args []string, stdio Stdio) int {
	cf, err := parseCert(args)
	if errors.Is(err, errHelp) {
		fmt.Fprint(stdio.Out, certUsage)
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stdio.Err, "Error: %v\n\nUse 'midge cert --help' to see usage.\n", err)
		return exitFailure
	}
	if err := cf.run(stdio.Out, time.Now()); err != nil {
		fmt.Fprintf(stdio.Err, "Error: %v\n", err)
		return exitFailure
	}
	return exitOK
}

// run makes the files and reports them on out.
func (cf *certFlags) run(out io.Writer, now time.Time) error {
	dir, err := filepath.Abs(cf.dir)
	if err != nil {
		return err
	}
	name := "server"
	if cf.client != "" {
		name = cf.client
	}
	certPath, keyPath := filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if !cf.force {
		// Refuse before writing anything, the CA included.
		for _, p := range []string{keyPath, certPath} {
			if _, err := os.Lstat(p); err == nil {
				return fmt.Errorf("%s already exists; use --force to replace it", p)
			}
		}
	}
	if err := makeCertDir(out, dir); err != nil {
		return err
	}
	ca, created, err := loadOrCreateCA(dir, now)
	if err != nil {
		return err
	}
	caPath := filepath.Join(dir, "ca.crt")
	if created {
		fmt.Fprintf(out, "Wrote the CA: %s and %s (valid until %s). Keep ca.key private.\n",
			caPath, filepath.Join(dir, "ca.key"), ca.cert.NotAfter.Format(time.DateOnly))
		fmt.Fprintln(out, certNames(caPath, ca.cert))
	} else {
		fmt.Fprintf(out, "Using the CA in %s.\n", caPath)
	}
	tmpl, err := cf.leafTemplate(now)
	if err != nil {
		return err
	}
	leaf, err := ca.issue(tmpl, certPath, keyPath)
	if err != nil {
		return err
	}
	if cf.client != "" {
		reportClient(out, caPath, certPath, keyPath, leaf)
	} else {
		reportServer(out, dir, caPath, certPath, keyPath, leaf)
	}
	return nil
}

// makeCertDir creates dir with mode 0755 whatever the umask: ca.crt and
// the certificates in it are public, and a client of any user needs
// ca.crt for --cafile. The keys in it are 0600 each. An existing dir is
// left as it is, with a note when other users cannot reach ca.crt in it.
func makeCertDir(out io.Writer, dir string) error {
	info, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		return os.Chmod(dir, 0o755) // MkdirAll's mode is masked by the umask
	}
	if err != nil {
		return err
	}
	if !info.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	if perm := info.Mode().Perm(); runtime.GOOS != "windows" && perm&0o005 != 0o005 {
		fmt.Fprintf(out, "Note: %s is mode %04o, so other users' clients cannot read ca.crt in it; chmod 755 %s lets them (the keys stay 0600).\n",
			dir, perm, dir)
	}
	return nil
}

// certNames is the line that shows what a certificate names:
// "server.crt: CN broker.example.com, DNS broker.example.com, localhost, IP 127.0.0.1, ::1".
func certNames(path string, cert *x509.Certificate) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: CN %s", filepath.Base(path), cert.Subject.CommonName)
	if len(cert.DNSNames) > 0 {
		b.WriteString(", DNS " + strings.Join(cert.DNSNames, ", "))
	}
	if len(cert.IPAddresses) > 0 {
		ips := make([]string, len(cert.IPAddresses))
		for i, ip := range cert.IPAddresses {
			ips[i] = ip.String()
		}
		b.WriteString(", IP " + strings.Join(ips, ", "))
	}
	return b.String()
}

// leafTemplate is the server or client certificate to issue.
func (cf *certFlags) leafTemplate(now time.Time) (*x509.Certificate, error) {
	tmpl := &x509.Certificate{
		NotBefore: now.Add(-backdate),
		NotAfter:  now.Add(leafValidity),
		KeyUsage:  x509.KeyUsageDigitalSignature, // ECDSA keys sign; they never encipher
	}
	if cf.client != "" {
		tmpl.Subject = pkix.Name{CommonName: cf.client}
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
		return tmpl, nil
	}
	hosts := []string(cf.hosts)
	if len(hosts) == 0 {
		if name, err := os.Hostname(); err == nil && checkHost(name) == nil {
			hosts = append(hosts, name)
		}
		hosts = append(hosts, "localhost", "127.0.0.1", "::1")
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			if !slices.ContainsFunc(tmpl.IPAddresses, ip.Equal) {
				tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			}
		} else if !slices.Contains(tmpl.DNSNames, h) {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	cn := hosts[0]
	if len(tmpl.DNSNames) > 0 {
		cn = tmpl.DNSNames[0]
	}
	tmpl.Subject = pkix.Name{CommonName: cn, Organization: []string{"midge"}}
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	return tmpl, nil
}

// certAuthority is the CA of DIR.
type certAuthority struct {
	cert *x509.Certificate
	key  crypto.Signer
}

// loadOrCreateCA reads DIR/ca.crt and DIR/ca.key, or makes them when both
// are missing.
func loadOrCreateCA(dir string, now time.Time) (*certAuthority, bool, error) {
	certPath, keyPath := filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key")
	certPEM, certErr := os.ReadFile(certPath)
	keyPEM, keyErr := os.ReadFile(keyPath)
	switch {
	case errors.Is(certErr, fs.ErrNotExist) && errors.Is(keyErr, fs.ErrNotExist):
		ca, err := createCA(certPath, keyPath, now)
		return ca, err == nil, err
	case errors.Is(keyErr, fs.ErrNotExist):
		return nil, false, fmt.Errorf("%s exists but %s is missing: restore the key, or move ca.crt away to make a new CA (every certificate it signed then needs remaking)", certPath, keyPath)
	case errors.Is(certErr, fs.ErrNotExist):
		return nil, false, fmt.Errorf("%s exists but %s is missing", keyPath, certPath)
	case certErr != nil:
		return nil, false, certErr
	case keyErr != nil:
		return nil, false, keyErr
	}
	ca := &certAuthority{}
	block, _ := pem.Decode(certPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, false, fmt.Errorf("%s: no PEM certificate found", certPath)
	}
	var err error
	if ca.cert, err = x509.ParseCertificate(block.Bytes); err != nil {
		return nil, false, fmt.Errorf("%s: %w", certPath, err)
	}
	if !ca.cert.IsCA {
		return nil, false, fmt.Errorf("%s is not a CA certificate", certPath)
	}
	if ca.key, err = parsePrivateKey(keyPEM); err != nil {
		return nil, false, fmt.Errorf("%s: %w", keyPath, err)
	}
	if pub, ok := ca.key.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(ca.cert.PublicKey) {
		return nil, false, fmt.Errorf("%s does not match %s", keyPath, certPath)
	}
	return ca, false, nil
}

// parsePrivateKey reads a PEM private key: PKCS#8, SEC 1 EC or PKCS#1 RSA,
// so that a CA made by openssl (generate-CA.sh) can be used too.
func parsePrivateKey(data []byte) (crypto.Signer, error) {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, errors.New("no unencrypted PEM private key found")
		}
		var key any
		var err error
		switch block.Type {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		default:
			continue
		}
		if err != nil {
			return nil, err
		}
		signer, ok := key.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("unsupported key type %T", key)
		}
		return signer, nil
	}
}

// createCA makes a CA that may sign end-entity certificates only.
func createCA(certPath, keyPath string, now time.Time) (*certAuthority, error) {
	key, err := newCertKey()
	if err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	serialNumber, err := randomSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serialNumber,
		Subject:               pkix.Name{CommonName: strings.TrimSpace("midge CA " + host), Organization: []string{"midge"}},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.AddDate(caValidityYears, 0, 0),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	if err := writeKeyAndCert(keyPath, certPath, key, der, false); err != nil {
		return nil, err
	}
	return &certAuthority{cert: cert, key: key}, nil
}

// issue signs tmpl with a new key and writes both; any existing files are
// replaced (the caller has checked --force). It returns the certificate
// written.
func (ca *certAuthority) issue(tmpl *x509.Certificate, certPath, keyPath string) (*x509.Certificate, error) {
	key, err := newCertKey()
	if err != nil {
		return nil, err
	}
	if tmpl.SerialNumber, err = randomSerial(); err != nil {
		return nil, err
	}
	if tmpl.NotAfter.After(ca.cert.NotAfter) {
		tmpl.NotAfter = ca.cert.NotAfter // a leaf cannot outlive its CA
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return cert, writeKeyAndCert(keyPath, certPath, key, der, true)
}

// newCertKey makes an ECDSA P-256 key: fast to make and to use in a
// handshake, small, and loaded by every OpenSSL that mosquitto and its
// clients link (1.0.2 onwards), by Go, Java, Python and the MQTT
// libraries of small devices (mbedTLS, wolfSSL).
func newCertKey() (*ecdsa.PrivateKey, error) {
	return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
}

// randomSerial returns a positive random serial number of 127 bits, as
// RFC 5280 asks (unpredictable, at most 20 octets).
func randomSerial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	return n.Add(n, big.NewInt(1)), nil
}

// writeKeyAndCert writes the key (PKCS#8 "PRIVATE KEY", mode 0600) and
// then the certificate (mode 0644), each through a temporary file renamed
// into place, so that a file is never half written. Without replace, an
// existing file is an error.
func writeKeyAndCert(keyPath, certPath string, key crypto.Signer, der []byte, replace bool) error {
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600, replace); err != nil {
		return err
	}
	return writeFileAtomic(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644, replace)
}

func writeFileAtomic(path string, data []byte, perm os.FileMode, replace bool) error {
	if !replace {
		if _, err := os.Lstat(path); err == nil {
			return fmt.Errorf("%s already exists; use --force to replace it", path)
		}
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	err = f.Chmod(perm)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if closeErr := f.Close(); err == nil {
		err = closeErr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

func reportServer(out io.Writer, dir, caPath, certPath, keyPath string, cert *x509.Certificate) {
	names := append([]string{}, cert.DNSNames...)
	for _, ip := range cert.IPAddresses {
		names = append(names, ip.String())
	}
	fmt.Fprintf(out, "Wrote the server certificate %s and its key %s (valid until %s).\n",
		certPath, keyPath, cert.NotAfter.Format(time.DateOnly))
	fmt.Fprintln(out, certNames(certPath, cert))
	fmt.Fprintf(out, `
A TLS listener in mosquitto.conf:
  listener 8883
  cafile %s
  certfile %s
  keyfile %s

If the broker runs as another user (Debian's mosquitto switches to user
mosquitto), let it read the key: chown mosquitto %s %s

Clients trust it with the CA certificate:
  midge sub --cafile %s -h %s -t '#' -v
  mosquitto_sub --cafile %s -h %s -t '#' -v
`, caPath, certPath, keyPath, dir, keyPath, caPath, names[0], caPath, names[0])
}

func reportClient(out io.Writer, caPath, certPath, keyPath string, cert *x509.Certificate) {
	fmt.Fprintf(out, "Wrote the client certificate %s and its key %s for %q (valid until %s).\n",
		certPath, keyPath, cert.Subject.CommonName, cert.NotAfter.Format(time.DateOnly))
	fmt.Fprintln(out, certNames(certPath, cert))
	fmt.Fprintf(out, `
To make the TLS listener in mosquitto.conf ask for client certificates, add:
  require_certificate true
and, to log each client in under its certificate's common name:
  use_identity_as_username true

The client connects with:
  midge pub --cafile %s --cert %s --key %s -h HOST -t test -m hello
  mosquitto_pub --cafile %s --cert %s --key %s -h HOST -t test -m hello
`, caPath, certPath, keyPath, caPath, certPath, keyPath)
}
