import Foundation
@testable import InfisicalAPI
import SecretCrypto
import Testing

@Suite("AWS Signature Version 4")
struct AWSSignatureV4Tests {
    private let example = AWSSignatureV4(
        accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", region: "us-east-1",
        service: "service")

    @Test func sigV4DerivedSigningKeyMatchesAWSDocs() {
        var iam = example
        iam.service = "iam"
        #expect(
            Hex.encode(iam.signingKey(day: "20150830"))
                == "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9")
    }

    @Test func sigV4GetVanillaFromTheAWSTestSuite() {
        let headers = [("Host", "example.amazonaws.com"), ("X-Amz-Date", "20150830T123600Z")]
        let signed = example.sign(method: "GET", path: "/", headers: headers, body: [], amzDate: "20150830T123600Z")
        #expect(signed.signedHeaders == "host;x-amz-date")
        #expect(signed.signature == "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")
        #expect(
            signed.authorization
                == "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
                + "SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")
        // get-vanilla-query-order-key-case: the query is sorted before signing.
        let query = example.sign(
            method: "GET", path: "/", query: [("Param2", "value2"), ("Param1", "value1")], headers: headers, body: [],
            amzDate: "20150830T123600Z")
        #expect(query.signature == "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500")
    }

    @Test func sigV4SignsEverySentHeaderAndOnlyThose() {
        let base = [("Host", "sts.us-east-1.amazonaws.com"), ("X-Amz-Date", "20240102T030405Z")]
        let without = example.sign(method: "POST", path: "/", headers: base, body: [1], amzDate: "20240102T030405Z")
        let with = example.sign(
            method: "POST", path: "/", headers: base + [("X-Amz-Security-Token", "t")], body: [1],
            amzDate: "20240102T030405Z")
        #expect(without.signedHeaders == "host;x-amz-date")
        #expect(with.signedHeaders == "host;x-amz-date;x-amz-security-token")
        #expect(with.signature != without.signature)
    }

}
