#include "core/Error.h"
#include "core/io/Safetensors.h"
#include "core/io/Sha256.h"

#include <QtTest>

#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

using namespace tunebench;

namespace {

using Bytes = std::vector<std::uint8_t>;

// The writer's output for the base fixture (see baseWriter()), spelled out by hand: a known answer for the
// header layout, and the starting point that every malformed case below edits.
const std::string kBaseHeader = R"({"__metadata__":{"format":"pt"},)"
                                R"("a.b":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},)"
                                R"("cls":{"dtype":"I8","shape":[3],"data_offsets":[16,19]}})";
constexpr std::size_t kBaseDataSize = 19;

const float kBaseFloats[4] = {1.5f, -2.0f, 0.25f, 1e30f};
const std::int8_t kBaseInts[3] = {-128, 0, 127};

Bytes lengthField(std::uint64_t length)
{
    Bytes bytes(8);
    for (int i = 0; i < 8; ++i)
        bytes[i] = static_cast<std::uint8_t>(length >> (8 * i));
    return bytes;
}

Bytes assemble(const std::string& header, const Bytes& data)
{
    Bytes bytes;
    bytes.reserve(8 + header.size() + data.size());
    for (const std::uint8_t byte : lengthField(header.size()))
        bytes.push_back(byte);
    for (const char c : header)
        bytes.push_back(static_cast<std::uint8_t>(c));
    bytes.insert(bytes.end(), data.begin(), data.end());
    return bytes;
}

Bytes baseData()
{
    Bytes data(kBaseDataSize);
    std::memcpy(data.data(), kBaseFloats, sizeof(kBaseFloats));
    std::memcpy(data.data() + 16, kBaseInts, sizeof(kBaseInts));
    return data;
}

SafetensorsWriter baseWriter()
{
    SafetensorsWriter writer;
    // Added in the opposite of file order, so the writer's own ordering is what the test sees.
    writer.add("cls", SafeDtype::I8, {3}, kBaseInts, sizeof(kBaseInts));
    writer.add("a.b", SafeDtype::F32, {2, 2}, kBaseFloats, sizeof(kBaseFloats));
    writer.setMetadata("format", "pt");
    return writer;
}

void replaceOnce(std::string& text, const std::string& from, const std::string& to)
{
    const std::size_t at = text.find(from);
    if (at == std::string::npos)
        qFatal("test fixture: '%s' not found in the base header", from.c_str());
    text.replace(at, from.size(), to);
}

std::string edited(const std::string& from, const std::string& to)
{
    std::string header = kBaseHeader;
    replaceOnce(header, from, to);
    return header;
}

Bytes readFile(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The Error message of loading `path`, or "" when it loads. Any other exception escapes and fails the test.
std::string loadError(const std::string& path)
{
    try {
        SafetensorsFile file(path);
        return {};
    } catch (const Error& error) {
        return error.what();
    }
}

bool startsWith(const std::string& text, const std::string& prefix)
{
    return text.compare(0, prefix.size(), prefix) == 0;
}

bool contains(const std::string& text, const std::string& part)
{
    return text.find(part) != std::string::npos;
}

} // namespace

class TestSafetensors : public QObject
{
    Q_OBJECT

private:
    QTemporaryDir m_dir;
    int m_fileCounter = 0;

    std::string pathFor(const std::string& name) const
    {
        return m_dir.filePath(QString::fromStdString(name)).toStdString();
    }

    std::string writeBytes(const std::string& name, const Bytes& bytes)
    {
        const std::string path = pathFor(name);
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
        out.close();
        if (!out)
            qFatal("test fixture: cannot write %s", path.c_str());
        return path;
    }

    // Loads `bytes` as a file and checks that it fails with a message that starts with the path and says `problem`.
    void expectRejected(const Bytes& bytes, const std::string& problem)
    {
        const std::string name = "case-" + std::to_string(++m_fileCounter) + ".safetensors";
        const std::string path = writeBytes(name, bytes);
        const std::string message = loadError(path);
        QVERIFY2(!message.empty(), ("loaded although it should fail with: " + problem).c_str());
        QVERIFY2(startsWith(message, path + ": "), message.c_str());
        QVERIFY2(contains(message, name), message.c_str());
        QVERIFY2(contains(message, problem), ("expected '" + problem + "' in: " + message).c_str());
        QVERIFY2(message.find('\n') == std::string::npos, message.c_str());
    }

private Q_SLOTS:
    void initTestCase() { QVERIFY(m_dir.isValid()); }

    // --- dtypes -------------------------------------------------------------------------------------

    void dtypeTable()
    {
        const std::vector<std::pair<const char*, int>> expected = {
            {"BOOL", 8}, {"U8", 8}, {"I8", 8}, {"I16", 16}, {"U16", 16}, {"F16", 16}, {"BF16", 16},
            {"I32", 32}, {"U32", 32}, {"F32", 32}, {"F64", 64}, {"I64", 64}, {"U64", 64}, {"C64", 64},
            {"F8_E5M2", 8}, {"F8_E4M3", 8}, {"F8_E8M0", 8}, {"F8_E4M3FNUZ", 8}, {"F8_E5M2FNUZ", 8},
            {"F4", 4}, {"F6_E2M3", 6}, {"F6_E3M2", 6}};
        for (const auto& [name, bits] : expected) {
            const SafeDtype dtype = parseDtype(name);
            QCOMPARE(dtypeName(dtype), std::string(name));
            QCOMPARE(bitsPerElement(dtype), bits);
        }
        QCOMPARE(parseDtype("BF16"), SafeDtype::BF16);
        QVERIFY_THROWS_EXCEPTION(Error, parseDtype("F128"));
        QVERIFY_THROWS_EXCEPTION(Error, parseDtype("f32"));  // names are case-sensitive

        // Sub-byte types are packed: ceil(numel * bits / 8).
        QCOMPARE(tensorByteSize(SafeDtype::F4, {3}), std::uint64_t(2));
        QCOMPARE(tensorByteSize(SafeDtype::F6_E2M3, {5}), std::uint64_t(4));
        QCOMPARE(tensorByteSize(SafeDtype::F6_E3M2, {4}), std::uint64_t(3));
        QCOMPARE(tensorByteSize(SafeDtype::C64, {2, 3}), std::uint64_t(48));
        QCOMPARE(tensorByteSize(SafeDtype::F32, {}), std::uint64_t(4));
        QCOMPARE(tensorByteSize(SafeDtype::F32, {7, 0}), std::uint64_t(0));
        QVERIFY_THROWS_EXCEPTION(Error, tensorByteSize(SafeDtype::F32, {-1}));
        QVERIFY_THROWS_EXCEPTION(Error, tensorByteSize(SafeDtype::U8, {std::int64_t(1) << 40, std::int64_t(1) << 40}));
    }

    // --- round trips --------------------------------------------------------------------------------

    void writerMatchesKnownLayout()
    {
        const Bytes bytes = baseWriter().serialize();
        // 146 header bytes padded with 6 spaces to 152, a multiple of 8.
        QCOMPARE(kBaseHeader.size(), std::size_t(146));
        std::string paddedHeader = kBaseHeader + std::string(6, ' ');
        QCOMPARE(bytes, assemble(paddedHeader, baseData()));

        const std::string path = pathFor("base.safetensors");
        baseWriter().write(path);
        QCOMPARE(readFile(path), bytes);
    }

    void roundTripBaseFile()
    {
        const std::string path = pathFor("roundtrip-base.safetensors");
        baseWriter().write(path);
        const SafetensorsFile file(path);
        QCOMPARE(file.path(), path);
        QCOMPARE(file.fileSize(), std::uint64_t(8 + 152 + 19));
        QCOMPARE(file.dataAreaOffset(), std::uint64_t(160));
        QCOMPARE(file.metadata().size(), std::size_t(1));
        QCOMPARE(file.metadata().at("format"), std::string("pt"));
        QCOMPARE(file.tensors().size(), std::size_t(2));

        const SafetensorInfo* weight = file.find("a.b");
        QVERIFY(weight);
        QCOMPARE(weight->dtype, SafeDtype::F32);
        QCOMPARE(weight->shape, (std::vector<std::int64_t>{2, 2}));
        QCOMPARE(weight->numel(), std::int64_t(4));
        QCOMPARE(weight->begin, std::uint64_t(0));
        QCOMPARE(weight->end, std::uint64_t(16));
        float floats[4];
        std::memcpy(floats, file.data(*weight), sizeof(floats));
        for (int i = 0; i < 4; ++i)
            QCOMPARE(floats[i], kBaseFloats[i]);

        const SafetensorInfo* ints = file.find("cls");
        QVERIFY(ints);
        QCOMPARE(ints->dtype, SafeDtype::I8);
        QCOMPARE(std::memcmp(file.data(*ints), kBaseInts, 3), 0);
        QVERIFY(file.find("missing") == nullptr);
        QVERIFY(file.find("__metadata__") == nullptr);
    }

    void roundTripManyDtypesWithAlignment()
    {
        SafetensorsWriter writer;
        std::mt19937 random(7);
        struct Expected
        {
            std::string name;
            SafeDtype dtype;
            std::vector<std::int64_t> shape;
            Bytes bytes;
        };
        std::vector<Expected> expected;
        const auto addTensor = [&](const std::string& name, SafeDtype dtype, std::vector<std::int64_t> shape) {
            Bytes bytes(tensorByteSize(dtype, shape));
            for (std::uint8_t& byte : bytes)
                byte = static_cast<std::uint8_t>(random());
            writer.add(name, dtype, shape, bytes.data(), bytes.size());
            expected.push_back({name, dtype, shape, bytes});
        };
        // Sizes chosen so that a naive insertion-order layout would misalign the wider types.
        addTensor("flag", SafeDtype::Bool, {3});
        addTensor("half", SafeDtype::F16, {5});
        addTensor("scalar", SafeDtype::F32, {});       // 0-rank
        addTensor("empty", SafeDtype::F32, {4, 0});    // empty
        addTensor("double", SafeDtype::F64, {3});
        addTensor("complex", SafeDtype::C64, {2});
        addTensor("bf", SafeDtype::BF16, {1, 3});
        addTensor("index", SafeDtype::I64, {2, 1});
        addTensor("packed4", SafeDtype::F4, {3});      // 2 bytes
        addTensor("packed6", SafeDtype::F6_E3M2, {5}); // 4 bytes
        addTensor("fp8", SafeDtype::F8_E4M3, {7});
        addTensor("u32", SafeDtype::U32, {3});
        addTensor("empty64", SafeDtype::I64, {0});
        writer.setMetadata("format", "pt");
        writer.setMetadata("note", "ünïcödé, \"quotes\" and\nnewline");
        QCOMPARE(writer.size(), expected.size());

        const std::string path = pathFor("many.safetensors");
        writer.write(path);
        QCOMPARE(readFile(path), writer.serialize());

        const SafetensorsFile file(path);
        QCOMPARE(file.dataAreaOffset() % 8, std::uint64_t(0));
        QCOMPARE(file.metadata().at("note"), std::string("ünïcödé, \"quotes\" and\nnewline"));
        QCOMPARE(file.tensors().size(), expected.size());
        for (const Expected& tensor : expected) {
            const SafetensorInfo* info = file.find(tensor.name);
            QVERIFY2(info, tensor.name.c_str());
            QCOMPARE(info->dtype, tensor.dtype);
            QCOMPARE(info->shape, tensor.shape);
            QCOMPARE(info->byteSize(), std::uint64_t(tensor.bytes.size()));
            QCOMPARE(Bytes(file.data(*info), file.data(*info) + info->byteSize()), tensor.bytes);
            // Natural alignment of every element, both inside the data area and in the file.
            QCOMPARE(info->begin % dtypeAlignment(info->dtype), std::uint64_t(0));
            const auto address = reinterpret_cast<std::uintptr_t>(file.data(*info));
            QCOMPARE(address % dtypeAlignment(info->dtype), std::uintptr_t(0));
        }
        QCOMPARE(file.find("scalar")->numel(), std::int64_t(1));
        QCOMPARE(file.find("empty")->numel(), std::int64_t(0));

        // Known order: alignment 8 (by name), then 4, 2, 1, names ascending inside each group.
        const std::vector<std::string> fileOrder = {"complex", "double", "empty64", "index", "empty", "scalar",
                                                    "u32", "bf", "half", "flag", "fp8", "packed4", "packed6"};
        QCOMPARE(file.tensors().size(), fileOrder.size());
        for (std::size_t i = 0; i < fileOrder.size(); ++i)
            QCOMPARE(file.tensors()[i].name, fileOrder[i]);  // header order is the file order here
    }

    void emptyDataArea()
    {
        SafetensorsWriter onlyMetadata;
        onlyMetadata.setMetadata("format", "pt");
        const std::string path = pathFor("no-data.safetensors");
        onlyMetadata.write(path);
        const SafetensorsFile file(path);
        QVERIFY(file.tensors().empty());
        QCOMPARE(file.fileSize(), file.dataAreaOffset());

        SafetensorsWriter onlyEmpty;
        onlyEmpty.add("nothing", SafeDtype::F16, {0, 5}, nullptr, 0);
        const std::string emptyPath = pathFor("only-empty.safetensors");
        onlyEmpty.write(emptyPath);
        const SafetensorsFile emptyFile(emptyPath);
        QCOMPARE(emptyFile.tensors().size(), std::size_t(1));
        QCOMPARE(emptyFile.fileSize(), emptyFile.dataAreaOffset());
        QVERIFY(emptyFile.data(emptyFile.tensors()[0]) != nullptr);

        // The smallest possible file: "{}" and nothing else.
        const SafetensorsFile bare(writeBytes("bare.safetensors", assemble("{}", {})));
        QVERIFY(bare.tensors().empty());
        QVERIFY(bare.metadata().empty());
        QCOMPARE(bare.fileSize(), std::uint64_t(10));
    }

    void foreignLayoutsAreAccepted()
    {
        // Another writer: keys out of order, no padding (odd header length, so data is unaligned),
        // several empty tensors sharing an offset, extra whitespace and trailing spaces.
        const std::string header = "{ \"z\" : {\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]},\n"
                                   "\"e1\":{\"shape\":[0],\"dtype\":\"I64\",\"data_offsets\":[4,4]},"
                                   "\"e2\":{\"dtype\":\"U8\",\"shape\":[2,0],\"data_offsets\":[4,4]},"
                                   "\"a\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[4,12]}}   ";
        QVERIFY(header.size() % 2 == 1);
        Bytes data(12);
        const float z = 3.25f;
        const double a = -1.0 / 3.0;
        std::memcpy(data.data(), &z, 4);
        std::memcpy(data.data() + 4, &a, 8);
        const SafetensorsFile file(writeBytes("foreign.safetensors", assemble(header, data)));
        QCOMPARE(file.tensors().size(), std::size_t(4));
        QCOMPARE(file.tensors()[0].name, std::string("z"));  // header order, not alphabetical
        QCOMPARE(file.tensors()[3].name, std::string("a"));
        QVERIFY(file.tensors()[0].shape.empty());
        float readZ = 0;
        double readA = 0;
        std::memcpy(&readZ, file.data(*file.find("z")), 4);
        std::memcpy(&readA, file.data(*file.find("a")), 8);
        QCOMPARE(readZ, z);
        QCOMPARE(readA, a);
    }

    void moveKeepsMappingAlive()
    {
        const std::string path = pathFor("move.safetensors");
        baseWriter().write(path);
        SafetensorsFile first(path);
        SafetensorsFile second(std::move(first));
        QCOMPARE(std::memcmp(second.data(*second.find("cls")), kBaseInts, 3), 0);
        SafetensorsFile third(writeBytes("move-other.safetensors", assemble("{}", {})));
        third = std::move(second);
        QCOMPARE(std::memcmp(third.data(*third.find("cls")), kBaseInts, 3), 0);
        QCOMPARE(third.tensors().size(), std::size_t(2));

        // An info that does not belong to the file is refused instead of read out of bounds.
        SafetensorInfo stranger{"stranger", SafeDtype::U8, {100}, 0, 100};
        QVERIFY_THROWS_EXCEPTION(Error, third.data(stranger));
    }

    // --- writer -------------------------------------------------------------------------------------

    void writerRejectsBadInput()
    {
        SafetensorsWriter writer;
        const float values[4] = {};
        writer.add("w", SafeDtype::F32, {4}, values, sizeof(values));
        try {
            writer.add("w", SafeDtype::F32, {4}, values, sizeof(values));
            QFAIL("duplicate name accepted");
        } catch (const Error& error) {
            QVERIFY2(contains(error.what(), "'w'") && contains(error.what(), "duplicate"), error.what());
        }
        try {
            writer.add("short", SafeDtype::F32, {2, 2}, values, 12);
            QFAIL("wrong byte count accepted");
        } catch (const Error& error) {
            QVERIFY2(contains(error.what(), "'short' has 12 bytes but shape [2, 2] of F32 needs 16"), error.what());
        }
        QVERIFY_THROWS_EXCEPTION(Error, writer.add("negative", SafeDtype::F32, {-4}, values, 16));
        QVERIFY_THROWS_EXCEPTION(Error, writer.add("__metadata__", SafeDtype::F32, {4}, values, 16));
        QVERIFY_THROWS_EXCEPTION(Error, writer.add("null", SafeDtype::F32, {4}, nullptr, 16));
        QVERIFY_THROWS_EXCEPTION(Error, writer.add("bad\xff", SafeDtype::F32, {4}, values, 16));
        QVERIFY_THROWS_EXCEPTION(Error, writer.setMetadata("k", "bad\xc0\xaf"));
        QCOMPARE(writer.size(), std::size_t(1));  // failed adds leave nothing behind
    }

    void writeIsAtomicAndReportsFailures()
    {
        QTemporaryDir folder;
        QVERIFY(folder.isValid());
        const std::string path = folder.filePath("model.safetensors").toStdString();
        {
            std::ofstream old(path);
            old << "old contents";
        }
        baseWriter().write(path);
        QCOMPARE(readFile(path), baseWriter().serialize());
        // Only the target remains: the temporary file was renamed, not left behind.
        QCOMPARE(QDir(folder.path()).entryList(QDir::Files | QDir::Hidden), QStringList{"model.safetensors"});

        const std::string unreachable = folder.filePath("no-such-folder/model.safetensors").toStdString();
        try {
            baseWriter().write(unreachable);
            QFAIL("writing into a missing folder succeeded");
        } catch (const Error& error) {
            QVERIFY2(startsWith(error.what(), unreachable + ": "), error.what());
        }
        // Renaming onto a folder fails after the temporary file exists; it must be cleaned up.
        const std::string folderTarget = folder.filePath("occupied").toStdString();
        QVERIFY(QDir(folder.path()).mkdir("occupied"));
        QVERIFY(QFile::copy(QString::fromStdString(path), QString::fromStdString(folderTarget + "/inner")));
        QVERIFY_THROWS_EXCEPTION(Error, baseWriter().write(folderTarget));
        QCOMPARE(QDir(folder.path()).entryList(QDir::Files | QDir::Hidden), QStringList{"model.safetensors"});
    }

    // --- malformed files: byte level ----------------------------------------------------------------

    void rejectsMissingFileAndFolder()
    {
        const std::string missing = pathFor("missing.safetensors");
        const std::string message = loadError(missing);
        QVERIFY2(startsWith(message, missing + ": cannot open"), message.c_str());
        const std::string folderMessage = loadError(m_dir.path().toStdString());
        QVERIFY2(contains(folderMessage, "not a regular file"), folderMessage.c_str());
    }

    void rejectsShortFile()
    {
        expectRejected({}, "file is 0 bytes, shorter than the 8-byte header length");
        expectRejected({2, 0, 0, 0, 0}, "file is 5 bytes, shorter than the 8-byte header length");
        expectRejected({2, 0, 0, 0, 0, 0, 0}, "file is 7 bytes");
    }

    void rejectsBadHeaderLength()
    {
        Bytes tooLong = assemble(kBaseHeader, baseData());
        const Bytes hugeLength = lengthField(100000001);
        std::copy(hugeLength.begin(), hugeLength.end(), tooLong.begin());
        expectRejected(tooLong, "header length 100000001 exceeds the limit of 100000000 bytes");

        Bytes maximal = assemble(kBaseHeader, baseData());
        std::fill(maximal.begin(), maximal.begin() + 8, 0xFF);
        expectRejected(maximal, "header length 18446744073709551615 exceeds the limit");

        // One byte more than the whole rest of the file.
        const std::size_t restOfFile = kBaseHeader.size() + kBaseDataSize;
        Bytes pastEnd = assemble(kBaseHeader, baseData());
        const Bytes pastLength = lengthField(restOfFile + 1);
        std::copy(pastLength.begin(), pastLength.end(), pastEnd.begin());
        expectRejected(pastEnd, "header length " + std::to_string(restOfFile + 1) + " runs past the end of the file ("
                                    + std::to_string(8 + restOfFile) + " bytes)");

        // Exactly the rest of the file: then the data area is empty and the offsets run past it.
        Bytes allHeader = assemble(kBaseHeader, baseData());
        const Bytes allLength = lengthField(restOfFile);
        std::copy(allLength.begin(), allLength.end(), allHeader.begin());
        // The first float's bytes (00 00 c0 3f) now end the header: 0xc0 is no UTF-8 sequence.
        expectRejected(allHeader, "header is not valid UTF-8 (byte " + std::to_string(8 + kBaseHeader.size() + 2));
    }

    void rejectsTrailingBytes()
    {
        Bytes data = baseData();
        data.insert(data.end(), {1, 2, 3, 4});
        expectRejected(assemble(kBaseHeader, data),
                       "data area is 23 bytes but the tensors cover only 19 (trailing bytes after the last tensor)");
        expectRejected(assemble("{}", {0}), "data area is 1 bytes but the tensors cover only 0");
    }

    // --- malformed files: header edits --------------------------------------------------------------

    void rejectsMalformedHeader_data()
    {
        QTest::addColumn<QByteArray>("header");
        QTest::addColumn<int>("dataSize");
        QTest::addColumn<QString>("problem");
        const auto row = [](const char* tag, const std::string& header, int dataSize, const std::string& problem) {
            QTest::newRow(tag) << QByteArray(header.data(), static_cast<int>(header.size())) << dataSize
                               << QString::fromStdString(problem);
        };
        const int n = static_cast<int>(kBaseDataSize);
        const std::string brace = "does not start with '{' (it must be a JSON object)";

        row("empty header", "", 0, brace);
        row("leading space", " " + kBaseHeader, n, brace);
        row("array", "[1,2]", 0, brace);
        row("string", "\"{}\"", 0, brace);
        row("cut short", kBaseHeader.substr(0, kBaseHeader.size() - 1), n, "header is not valid JSON");
        row("trailing garbage", kBaseHeader + " x", n, "header is not valid JSON");
        row("zero padding", kBaseHeader + std::string(3, '\0'), n,
            "header is not valid JSON (NUL byte at byte " + std::to_string(8 + kBaseHeader.size()) + " of the file)");
        row("NUL then garbage", kBaseHeader + std::string(1, '\0') + "]]", n, "header is not valid JSON (NUL byte");
        row("comment", edited("{", "{/*c*/"), n, "header is not valid JSON");
        row("single quotes", edited("\"pt\"", "'pt'"), n, "header is not valid JSON");
        row("invalid utf-8", edited("a.b", "a\xff"), n, "header is not valid UTF-8 (byte 42 of the file)");
        row("overlong utf-8", edited("a.b", "a\xc0\xae"), n, "header is not valid UTF-8");
        row("surrogate utf-8", edited("a.b", "a\xed\xa0\x80"), n, "header is not valid UTF-8");
        row("truncated utf-8", edited("a.b", "a\xe2\x82"), n, "header is not valid UTF-8");

        row("duplicate name",
            edited("\"cls\":", R"("cls":{"dtype":"U8","shape":[0],"data_offsets":[19,19]},"cls":)"), n,
            "header has a duplicate tensor name 'cls'");
        row("duplicate field", edited(R"("dtype":"I8")", R"("dtype":"I8","dtype":"U8")"), n,
            "header has a duplicate key 'dtype' inside entry 'cls'");
        row("duplicate metadata key", edited(R"({"format":"pt"})", R"({"format":"pt","format":"np"})"), n,
            "duplicate key 'format' inside entry '__metadata__'");

        row("entry not object", edited(R"({"dtype":"I8","shape":[3],"data_offsets":[16,19]})", "5"), 16,
            "tensor 'cls' is 5, not an object");
        row("entry array", edited(R"({"dtype":"I8","shape":[3],"data_offsets":[16,19]})", "[16,19]"), 16,
            "tensor 'cls' is [16,19], not an object");
        row("missing dtype", edited(R"("dtype":"I8",)", ""), n, "tensor 'cls' has no \"dtype\"");
        row("dtype number", edited(R"("dtype":"I8")", R"("dtype":8)"), n, "tensor 'cls' \"dtype\" is 8, not a string");
        row("dtype null", edited(R"("dtype":"I8")", R"("dtype":null)"), n, "\"dtype\" is null, not a string");
        row("unknown dtype", edited(R"("dtype":"I8")", R"("dtype":"I7")"), n, "tensor 'cls' has unknown dtype 'I7'");
        row("lowercase dtype", edited(R"("dtype":"F32")", R"("dtype":"f32")"), n,
            "tensor 'a.b' has unknown dtype 'f32'");
        row("missing shape", edited(R"("shape":[3],)", ""), n, "tensor 'cls' has no \"shape\"");
        row("shape number", edited(R"("shape":[3])", R"("shape":3)"), n, "tensor 'cls' \"shape\" is 3, not an array");
        row("negative dim", edited(R"("shape":[3])", R"("shape":[-3])"), n,
            "tensor 'cls' shape [-3] has a negative dimension");
        row("fractional dim", edited(R"("shape":[3])", R"("shape":[3.0])"), n,
            "tensor 'cls' shape [3.0] has a non-integer dimension");
        row("string dim", edited(R"("shape":[3])", R"("shape":["3"])"), n,
            "tensor 'cls' shape [\"3\"] has a dimension that is not a number");
        row("missing offsets", edited(R"(,"data_offsets":[16,19])", ""), n, "tensor 'cls' has no \"data_offsets\"");
        row("one offset", edited("[16,19]", "[16]"), n,
            "tensor 'cls' \"data_offsets\" is [16], not an array of two offsets");
        row("three offsets", edited("[16,19]", "[16,19,19]"), n, "not an array of two offsets");
        row("offsets object", edited("[16,19]", R"({"begin":16})"), n, "not an array of two offsets");
        row("fractional offset", edited("[16,19]", "[16,19.0]"), n,
            "tensor 'cls' \"data_offsets\" [16,19.0] are not two non-negative integers");
        row("negative offset", edited("[0,16]", "[-1,16]"), n, "\"data_offsets\" [-1,16] are not two non-negative");
        row("begin after end", edited("[16,19]", "[19,16]"), n,
            "tensor 'cls' data_offsets [19, 16] begin after they end");
        row("end beyond data", edited("[16,19]", "[16,20]"), n,
            "tensor 'cls' data_offsets [16, 20] end beyond the data area (19 bytes)");
        row("huge end", edited("[16,19]", "[16,18446744073709551615]"), n, "end beyond the data area");
        row("size mismatch", edited("[2,2]", "[2,3]"), n,
            "tensor 'a.b' data_offsets [0, 16] do not match shape [2, 3] of F32 (24 bytes)");
        row("0-rank mismatch", edited("[3]", "[]"), n,
            "tensor 'cls' data_offsets [16, 19] do not match shape [] of I8 (1 bytes)");
        row("numel overflow", edited("[3]", "[4294967296,4294967296]"), n,
            "tensor 'cls' shape [4294967296,4294967296] has too many elements (the count overflows 64 bits)");
        row("dim above int64", edited("[3]", "[18446744073709551615]"), n, "has too many elements");
        row("byte overflow", edited(R"("dtype":"I8","shape":[3])", R"("dtype":"F64","shape":[1152921504606846976])"),
            n, "tensor 'cls' shape [1152921504606846976] of F64 is too large (its byte size overflows 64 bits)");

        row("overlap", edited("[16,19]", "[12,15]"), 16, "tensors 'a.b' [0, 16] and 'cls' [12, 15] overlap");
        row("same range", edited(R"("dtype":"I8","shape":[3],"data_offsets":[16,19])",
                                 R"("dtype":"F32","shape":[4],"data_offsets":[0,16])"),
            16, "tensors 'a.b' [0, 16] and 'cls' [0, 16] overlap");
        row("hole between", edited("[16,19]", "[17,20]"), 20,
            "hole in the data area: bytes [16, 17) between tensors 'a.b' and 'cls' belong to no tensor");
        std::string shiftedBoth = edited("[0,16]", "[1,17]");
        replaceOnce(shiftedBoth, "[16,19]", "[17,20]");
        row("hole at start", shiftedBoth, 20,
            "hole in the data area: bytes [0, 1) before the first tensor 'a.b' belong to no tensor");

        row("metadata string", edited(R"({"format":"pt"})", R"("pt")"), n,
            "__metadata__ is \"pt\", not an object of strings");
        row("metadata null", edited(R"({"format":"pt"})", "null"), n, "__metadata__ is null, not an object of strings");
        row("metadata number value", edited(R"("pt")", "1"), n, "__metadata__ value of 'format' is 1, not a string");
        row("metadata nested value", edited(R"("pt")", R"({"a":"b"})"), n,
            "__metadata__ value of 'format' is {\"a\":\"b\"}, not a string");
        row("control character in name", edited(R"("cls":{"dtype":"I8")", R"("c\nls":{"dtype":"X")"), n,
            "tensor 'c\\x0als' has unknown dtype 'X'");
    }

    void rejectsMalformedHeader()
    {
        QFETCH(QByteArray, header);
        QFETCH(int, dataSize);
        QFETCH(QString, problem);
        const std::string headerText(header.constData(), static_cast<std::size_t>(header.size()));
        // The first bytes of the data keep the base values, so each file differs from the valid one only
        // in the edited part.
        Bytes data = baseData();
        data.resize(static_cast<std::size_t>(dataSize));
        expectRejected(assemble(headerText, data), problem.toStdString());
    }

    // --- fuzzing --------------------------------------------------------------------------------------

    void fuzzedFilesLoadOrThrowError()
    {
        SafetensorsWriter writer;
        const float weights[6] = {1, 2, 3, 4, 5, 6};
        const std::uint16_t halves[3] = {0x3c00, 0x4000, 0x4200};
        const double scalar = 2.5;
        writer.add("encoder.layer.0.weight", SafeDtype::F32, {2, 3}, weights, sizeof(weights));
        writer.add("encoder.layer.0.bias", SafeDtype::F16, {3}, halves, sizeof(halves));
        writer.add("logit_scale", SafeDtype::F64, {}, &scalar, sizeof(scalar));
        writer.add("empty", SafeDtype::I32, {0, 3}, nullptr, 0);
        writer.setMetadata("format", "pt");
        const Bytes valid = writer.serialize();
        const std::size_t headerEnd = 8 + static_cast<std::size_t>(valid[0] | (valid[1] << 8));

        std::mt19937 random(20240521);
        const std::string interesting = "{}[]\",:-0123456789 eE.\\u";
        int loaded = 0;
        int rejected = 0;
        const std::string path = pathFor("fuzz.safetensors");
        for (int iteration = 0; iteration < 2000; ++iteration) {
            Bytes bytes = valid;
            const int kind = static_cast<int>(random() % 4);
            if (kind == 0) {
                bytes.resize(random() % bytes.size());  // truncation
            } else {
                // Mostly inside the length field and the header, where the parser lives.
                const int edits = 1 + static_cast<int>(random() % 3);
                for (int e = 0; e < edits; ++e) {
                    const std::size_t at = random() % 10 == 0 ? random() % bytes.size() : random() % headerEnd;
                    if (kind == 1)
                        bytes[at] ^= static_cast<std::uint8_t>(1u << (random() % 8));
                    else if (kind == 2)
                        bytes[at] = static_cast<std::uint8_t>(interesting[random() % interesting.size()]);
                    else
                        bytes[at] = static_cast<std::uint8_t>(random());
                }
            }
            {
                std::ofstream out(path, std::ios::binary | std::ios::trunc);
                out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
            }
            try {
                const SafetensorsFile file(path);
                // Touch every byte that the file claims to own: out-of-bounds claims would show up here
                // (or under a sanitizer), not as silent garbage later.
                std::uint64_t checksum = 0;
                for (const SafetensorInfo& info : file.tensors()) {
                    QVERIFY(info.begin <= info.end);
                    QVERIFY(file.dataAreaOffset() + info.end <= file.fileSize());
                    const std::uint8_t* data = file.data(info);
                    for (std::uint64_t i = 0; i < info.byteSize(); ++i)
                        checksum += data[i];
                }
                Q_UNUSED(checksum);
                ++loaded;
            } catch (const Error& error) {
                const std::string message = error.what();
                QVERIFY2(startsWith(message, path + ": "), message.c_str());
                ++rejected;
            }
        }
        qInfo("fuzz: %d loaded, %d rejected", loaded, rejected);
        QCOMPARE(loaded + rejected, 2000);
        QVERIFY(loaded > 0);    // data-area edits and harmless header edits must still load
        QVERIFY(rejected > 1000);
    }

    // --- SHA-256 --------------------------------------------------------------------------------------

    void sha256Vectors_data()
    {
        QTest::addColumn<QByteArray>("message");
        QTest::addColumn<QString>("digest");
        // FIPS 180-4 example messages (NIST CSRC "SHA256.pdf", "SHA2_Additional.pdf").
        QTest::newRow("empty") << QByteArray()
                               << "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        QTest::newRow("abc") << QByteArray("abc")
                             << "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        QTest::newRow("448 bits") << QByteArray("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")
                                  << "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1";
        QTest::newRow("896 bits")
            << QByteArray("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
                          "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu")
            << "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1";
        QTest::newRow("million a") << QByteArray(1000000, 'a')
                                   << "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
    }

    void sha256Vectors()
    {
        QFETCH(QByteArray, message);
        QFETCH(QString, digest);
        const std::string expected = digest.toStdString();
        QCOMPARE(sha256Hex(message.constData(), static_cast<std::size_t>(message.size())), expected);

        // Fed in uneven pieces, across block boundaries, the result is the same.
        Sha256 hash;
        std::size_t offset = 0;
        std::size_t piece = 1;
        while (offset < static_cast<std::size_t>(message.size())) {
            const std::size_t take = std::min(piece, static_cast<std::size_t>(message.size()) - offset);
            hash.update(message.constData() + offset, take);
            offset += take;
            piece = piece * 3 % 97 + 1;
        }
        QCOMPARE(hash.hexDigest(), expected);
        // hexDigest() reset the object: it now hashes a fresh message.
        hash.update("abc", 3);
        QCOMPARE(hash.hexDigest(), std::string("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    }

    void sha256PaddingBoundaries()
    {
        // Lengths around the 55/56/64-byte padding edges agree between one-shot and byte-by-byte hashing,
        // and 55 vs 56 bytes (one vs two final blocks) give different digests.
        for (std::size_t length : {55u, 56u, 63u, 64u, 65u, 119u, 120u, 128u}) {
            const std::string message(length, 'x');
            Sha256 byteByByte;
            for (const char c : message)
                byteByByte.update(&c, 1);
            QCOMPARE(byteByByte.hexDigest(), sha256Hex(message.data(), message.size()));
        }
        const std::array<std::uint8_t, 32> digest = [] {
            Sha256 hash;
            hash.update("abc", 3);
            return hash.digest();
        }();
        QCOMPARE(digest[0], std::uint8_t(0xba));
        QCOMPARE(digest[31], std::uint8_t(0xad));
    }

    void sha256OfFile()
    {
        // Larger than the 1 MiB read chunk, with a length that is not a multiple of it.
        Bytes bytes(3000001);
        for (std::size_t i = 0; i < bytes.size(); ++i)
            bytes[i] = static_cast<std::uint8_t>(i * 31 + 7);
        const std::string path = writeBytes("hash-me.bin", bytes);
        const std::string expected = "9edbdc3ee31fc094536998ae05ce80752c02929067f1bf002d042746ffd5f3f9";
        QCOMPARE(sha256File(path), expected);
        QCOMPARE(sha256Hex(bytes.data(), bytes.size()), expected);
        QCOMPARE(sha256File(writeBytes("empty.bin", {})),
                 std::string("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));

        const std::string missing = pathFor("not-there.bin");
        try {
            sha256File(missing);
            QFAIL("hashing a missing file succeeded");
        } catch (const Error& error) {
            QVERIFY2(startsWith(error.what(), missing + ": cannot read"), error.what());
        }
        try {
            sha256File(m_dir.path().toStdString());  // a folder opens but cannot be read
            QFAIL("hashing a folder succeeded");
        } catch (const Error& error) {
            QVERIFY2(contains(error.what(), "cannot read"), error.what());
        }
    }
};

QTEST_APPLESS_MAIN(TestSafetensors)
#include "tst_safetensors.moc"
