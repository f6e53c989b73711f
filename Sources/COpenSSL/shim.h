// OpenSSL's libcrypto as SecretCrypto sees it: the EVP AEAD calls and the CSPRNG.
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/err.h>
#include <openssl/crypto.h>
