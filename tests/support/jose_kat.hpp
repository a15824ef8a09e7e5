// Known-answer JOSE vectors made outside CareBridge (Node.js crypto): an RSA 2048 and an EC P-384
// public key as JWK Sets (kids "rsa-kat" and "ec-kat") and, for each, an assertion it signed
// (RS384; ES384 with dsaEncoding ieee-p1363) over the claims
// {"iss":"kat-client","sub":"kat-client","aud":"https://gw.example/auth/token","exp":1700000300,
// "jti":"kat-1"}. Constants only, so the unit tests and the fuzz target can share them.
#pragma once

#include <string_view>

namespace carebridge::test_auth::kat {

constexpr std::string_view rsa_jwks =
    R"KAT({"keys":[{"kty":"RSA","n":"9aTd6h9yEi4PQ7yMm7q9P-umWIAvV1jf1nbh8P7NLSIjCJlp6GnUitSQLgrDV_W3cGFeYWqOm2a8gy6zcr4QpHJXfgmziRneYZxxsGLONryOPvfwJjMy8G8tDEJJVyaxRET2sir66cJdEIjbeI21vDvJg5GJCjiH_AuPzeQ9zAW22Z0Y1U_N-2TCtdDrQMDGERgo81pywc_ww71-EKYbLQ0gog51w8O2PRyfhHczhtHRaxHVbLeGzImf58pzE7kC0y-uACD-yBK524GIfvFHaOuKSXYPZfVz2IfuFWnY62Rahis3m_YC39wdHGmlyF8WXWi0XOf3N6uWnEWtxb2wUQ","e":"AQAB","kid":"rsa-kat"}]})KAT";
constexpr std::string_view rsa_jws =
    R"KAT(eyJhbGciOiJSUzM4NCIsImtpZCI6InJzYS1rYXQiLCJ0eXAiOiJKV1QifQ.eyJpc3MiOiJrYXQtY2xpZW50Iiwic3ViIjoia2F0LWNsaWVudCIsImF1ZCI6Imh0dHBzOi8vZ3cuZXhhbXBsZS9hdXRoL3Rva2VuIiwiZXhwIjoxNzAwMDAwMzAwLCJqdGkiOiJrYXQtMSJ9.awJsVxwtOZB2nUtcroMzsYhEF-o39ADQ6pjIeqk57rXli9K5AjrCbATJ_I4BMnwrWGu_JLAzmWqVJM3niC1tYXla_rgrtjJmBQVG99HxMhNLu4R8aMuefjJiO73L4kzTDraD2RrVxkPKaW5qWlzI-cNEXWEgmPO3ZRY8uUOdSJNfcWkbtqA_fmr2e4VS7OY_FND66ks2zTv08H72ZPOz61HbTfv52WK8sqAe7XPvaCRudPjM_qfarWvteMwzLdxazQZhENtJxHXZeuwfUEJhltx_TdbxbJ8Q74KFQFlEvqahCYRTKPh00ws_3-LRaUhgRJLuz4sRrCVAiOcex5x6ow)KAT";
constexpr std::string_view ec_jwks =
    R"KAT({"keys":[{"kty":"EC","x":"B8XBIST0g_DNgv6GrptVUXkXQsrpBi0IHGV3u_ATZSjxMAiTOxcEK1WH4YtPZlvd","y":"ct5gjsIZ2-CzV9eoYyjLKKN9WUUE2IS8d3gnDLKFdAW9XX8b07wsPoGSylBFtGw2","crv":"P-384","kid":"ec-kat"}]})KAT";
constexpr std::string_view ec_jws =
    R"KAT(eyJhbGciOiJFUzM4NCIsImtpZCI6ImVjLWthdCIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJrYXQtY2xpZW50Iiwic3ViIjoia2F0LWNsaWVudCIsImF1ZCI6Imh0dHBzOi8vZ3cuZXhhbXBsZS9hdXRoL3Rva2VuIiwiZXhwIjoxNzAwMDAwMzAwLCJqdGkiOiJrYXQtMSJ9.OcS9be-bYW4ZvnA5YNZG05aGAHsc7FDqsUrAujcDGciHxRterymx3HZ511luNcNWu7gLFLdO0fbLw5ptdhnCUJ7JRsNnDDtlmwQGbIDaSsathGtZ79HIdZfCkppvKiBR)KAT";

}  // namespace carebridge::test_auth::kat
