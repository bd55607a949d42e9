import ImageCore
import Testing

@Suite("Pipeline text")
struct PipelineTests {
    @Test func defaultsAreFilledIn() throws {
        #expect(try Pipeline(parsing: "blur").description == "blur:1")
        #expect(try Pipeline(parsing: "canny").description == "canny:100:200")
        #expect(try Pipeline(parsing: "clahe").description == "clahe:2:8")
        #expect(try Pipeline(parsing: "sharpen::2").description == "sharpen:1:2")
        #expect(try Pipeline(parsing: " Grayscale , blur:3 ,canny:100:200").description == "grayscale,blur:3,canny:100:200")
        #expect(try Pipeline(parsing: "resize:640X480,rotate,flip").description == "resize:640x480,rotate:90,flip:h")
    }

    @Test(arguments: [
        ("blur:x", "blur:x", "SIGMA"),
        ("grayscale,blurr:3", "blurr:3", "unknown operation"),
        ("invert:1", "invert:1", "at most 0"),
        ("resize", "resize", "needs SIZE"),
        ("resize:0x10", "resize:0x10", "WxH"),
        ("rotate:45", "rotate:45", "90, 180 or 270"),
        ("flip:d", "flip:d", "h or v"),
        ("median:0", "median:0", "1...64"),
        ("canny:10:20:30", "canny:10:20:30", "at most 2"),
        ("blur:nan", "blur:nan", "SIGMA"),
    ])
    func badTokensAreNamed(_ text: String, _ token: String, _ hint: String) {
        let error = #expect(throws: PipelineError.self) { try Pipeline(parsing: text) }
        #expect(error?.message.hasPrefix("bad operation '\(token)'") == true)
        #expect(error?.code == (token == "blurr:3" ? .unknownOperation : .badArguments))
        #expect(error?.description.contains(hint) == true, "\(error?.description ?? "")")
    }

    @Test(arguments: ["", "grayscale,,invert", "invert,", ",invert"])
    func emptyOperationsAreRefused(_ text: String) {
        #expect(throws: PipelineError.self) { try Pipeline(parsing: text) }
    }

    @Test func everyOperationIsDocumented() {
        for info in OperationInfo.all {
            #expect(!info.summary.isEmpty)
            for p in info.parameters { #expect(!p.help.isEmpty, "\(info.name) \(p.name)") }
        }
        #expect(OperationInfo.all.count == 18)
    }
}
