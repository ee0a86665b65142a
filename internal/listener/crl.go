package listener

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"time"
)

// crl is one certificate revocation list with its revoked serial numbers
// indexed.
type crl struct {
	list    *x509.RevocationList
	revoked map[string]bool // serial numbers in decimal
}

// crlSet is what a crlfile holds.
type crlSet []crl

// loadCRLs reads a crlfile: PEM "X509 CRL" blocks, or one DER CRL.
func loadCRLs(path string) (crlSet, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, optionErr("crlfile", path, err)
	}
	var ders [][]byte
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type == "X509 CRL" {
			ders = append(ders, block.Bytes)
		}
	}
	if len(ders) == 0 {
		if bytes.Contains(data, []byte("-----BEGIN")) {
			return nil, optionErrf("crlfile", "crlfile %s: no X509 CRL found", path)
		}
		ders = [][]byte{data}
	}
	var set crlSet
	for _, der := range ders {
		list, err := x509.ParseRevocationList(der)
		if err != nil {
			return nil, optionErr("crlfile", path, err)
		}
		c := crl{list: list, revoked: make(map[string]bool, len(list.RevokedCertificateEntries))}
		for _, entry := range list.RevokedCertificateEntries {
			c.revoked[entry.SerialNumber.String()] = true
		}
		set = append(set, c)
	}
	return set, nil
}

// check refuses a client whose certificate is revoked, or whose issuer has
// no CRL in the set that is signed by it and current at now. Every chain
// Go verified must pass.
func (s crlSet) check(chains [][]*x509.Certificate, now time.Time) error {
	if len(chains) == 0 {
		return errors.New("listener: no verified client certificate chain to check against crlfile")
	}
	for _, chain := range chains {
		leaf, issuer := chain[0], chain[0]
		if len(chain) > 1 {
			issuer = chain[1]
		}
		if err := s.checkOne(leaf, issuer, now); err != nil {
			return err
		}
	}
	return nil
}

func (s crlSet) checkOne(leaf, issuer *x509.Certificate, now time.Time) error {
	var problem error
	for _, c := range s {
		if !bytes.Equal(c.list.RawIssuer, leaf.RawIssuer) || c.list.CheckSignatureFrom(issuer) != nil {
			continue
		}
		switch {
		case now.Before(c.list.ThisUpdate):
			problem = fmt.Errorf("listener: the CRL of %s is not valid yet", issuer.Subject)
			continue
		case !c.list.NextUpdate.IsZero() && now.After(c.list.NextUpdate):
			problem = fmt.Errorf("listener: the CRL of %s has expired", issuer.Subject)
			continue
		}
		if c.revoked[leaf.SerialNumber.String()] {
			return fmt.Errorf("listener: client certificate %s (serial %s) is revoked", leaf.Subject, leaf.SerialNumber)
		}
		return nil
	}
	if problem != nil {
		return problem
	}
	return fmt.Errorf("listener: crlfile holds no CRL from %s, the issuer of client certificate %s", issuer.Subject, leaf.Subject)
}
