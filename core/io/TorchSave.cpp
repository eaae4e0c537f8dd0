#include "core/io/TorchSave.h"

#include "core/Error.h"
#include "core/io/RegularFile.h"

#include <caffe2/serialize/inline_container.h>
#include <torch/torch.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <unordered_map>
#include <variant>
#include <vector>

namespace tunebench {

namespace {

// The pickle of the legacy format starts with this number (torch/serialization.py's MAGIC_NUMBER).
const unsigned char kLegacyMagic[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};

struct Value;
using ValuePtr = std::shared_ptr<Value>;

// Where a tensor's elements live: a storage of the file and the view on it.
struct TensorRef
{
    std::string storageKey;
    c10::ScalarType dtype = c10::kFloat;
    std::int64_t offset = 0;
    std::vector<std::int64_t> sizes, strides;
};

struct StorageRef
{
    std::string key;
    c10::ScalarType dtype = c10::kFloat;
    std::int64_t viewOffset = 0;  // legacy views of a larger storage
};

struct Global
{
    std::string name;  // "module.qualname"
};

// An object built from a global we do not interpret (argparse.Namespace in a training checkpoint, say).
struct Opaque
{
    std::string type;
};

using List = std::vector<ValuePtr>;
using Dict = std::vector<std::pair<ValuePtr, ValuePtr>>;

struct Value
{
    // Tuples and lists are both List: nothing here needs to tell them apart.
    std::variant<std::monostate, bool, std::int64_t, double, std::string, List, Dict, TensorRef, StorageRef, Global, Opaque> data;
};

template <typename T>
ValuePtr make(T value)
{
    auto v = std::make_shared<Value>();
    v->data = std::move(value);
    return v;
}

// Every list and dict an unpickler makes. A pickle can nest them arbitrarily deep or make one hold
// itself (memo plus APPEND); emptying them all when the reading ends frees the graph without recursion
// and without leaking cycles.
class ValueArena
{
public:
    ValueArena() = default;
    ValueArena(const ValueArena&) = delete;
    ValueArena& operator=(const ValueArena&) = delete;
    ~ValueArena()
    {
        for (const ValuePtr& container : m_containers)
            container->data = std::monostate{};
    }

    template <typename T>
    ValuePtr container(T items)
    {
        m_containers.push_back(make(std::move(items)));
        return m_containers.back();
    }

private:
    std::vector<ValuePtr> m_containers;
};

c10::ScalarType storageDtype(const std::string& global, const std::string& file)
{
    static const std::map<std::string, c10::ScalarType> types = {
        {"torch.FloatStorage", c10::kFloat},   {"torch.DoubleStorage", c10::kDouble}, {"torch.HalfStorage", c10::kHalf},
        {"torch.BFloat16Storage", c10::kBFloat16}, {"torch.LongStorage", c10::kLong}, {"torch.IntStorage", c10::kInt},
        {"torch.ShortStorage", c10::kShort},   {"torch.CharStorage", c10::kChar},     {"torch.ByteStorage", c10::kByte},
        {"torch.BoolStorage", c10::kBool},     {"torch.UntypedStorage", c10::kByte},
    };
    auto it = types.find(global);
    if (it == types.end())
        throw Error(file + ": unsupported storage type '" + global + "'");
    return it->second;
}

// torch.<dtype> globals, as _rebuild_tensor_v3 names its dtype.
c10::ScalarType tensorDtype(const std::string& global, const std::string& file)
{
    static const std::map<std::string, c10::ScalarType> types = {
        {"torch.float32", c10::kFloat},   {"torch.float", c10::kFloat},     {"torch.float64", c10::kDouble},
        {"torch.double", c10::kDouble},   {"torch.float16", c10::kHalf},    {"torch.half", c10::kHalf},
        {"torch.bfloat16", c10::kBFloat16}, {"torch.int64", c10::kLong},    {"torch.long", c10::kLong},
        {"torch.int32", c10::kInt},       {"torch.int", c10::kInt},         {"torch.int16", c10::kShort},
        {"torch.short", c10::kShort},     {"torch.int8", c10::kChar},       {"torch.uint8", c10::kByte},
        {"torch.bool", c10::kBool},
    };
    auto it = types.find(global);
    if (it == types.end())
        throw Error(file + ": holds a tensor of dtype '" + global + "', which Tunebench does not read");
    return it->second;
}

// A pickle (protocols 2 to 5) over one buffer. Persistent ids are handed to `persistentLoad`.
class Unpickler
{
public:
    // The lists and dicts it makes belong to `arena`, which must outlive every value read.
    Unpickler(const std::string& file, const char* data, std::size_t size, std::function<ValuePtr(const ValuePtr&)> persistentLoad,
              ValueArena& arena)
        : m_file(file), m_data(data), m_size(size), m_persistentLoad(std::move(persistentLoad)), m_arena(arena)
    {
    }

    // Reads one pickle from `position` up to and including its STOP; returns the object.
    ValuePtr load(std::size_t& position)
    {
        m_pos = position;
        m_stack.clear();
        m_marks.clear();
        m_memo.clear();
        m_dictIndex.clear();
        for (;;) {
            const std::size_t at = m_pos;
            const auto op = static_cast<unsigned char>(bytes(1)[0]);
            if (op == '.') {
                if (m_stack.size() != 1)
                    fail(at, "STOP with " + std::to_string(m_stack.size()) + " values on the stack");
                position = m_pos;
                return m_stack.back();
            }
            step(op, at);
        }
    }

private:
    [[noreturn]] void fail(std::size_t at, const std::string& what) const
    {
        throw Error(m_file + ": unreadable pickle at byte " + std::to_string(at) + ": " + what);
    }

    const char* bytes(std::size_t count)
    {
        if (count > m_size - m_pos)
            fail(m_pos, "the data ends early (truncated file?)");
        const char* p = m_data + m_pos;
        m_pos += count;
        return p;
    }

    std::uint64_t unsignedLE(std::size_t count)
    {
        const auto* p = reinterpret_cast<const unsigned char*>(bytes(count));
        std::uint64_t value = 0;
        for (std::size_t i = 0; i < count; ++i)
            value |= static_cast<std::uint64_t>(p[i]) << (8 * i);
        return value;
    }

    std::string text(std::size_t count) { return std::string(bytes(count), count); }

    std::string line()
    {
        const void* end = std::memchr(m_data + m_pos, '\n', m_size - m_pos);
        if (!end)
            fail(m_pos, "a GLOBAL without its newline");
        const std::size_t length = static_cast<const char*>(end) - (m_data + m_pos);
        std::string out = text(length);
        ++m_pos;
        return out;
    }

    ValuePtr pop(std::size_t at)
    {
        if (m_stack.empty() || (!m_marks.empty() && m_stack.size() <= m_marks.back()))
            fail(at, "the stack is empty");
        ValuePtr v = std::move(m_stack.back());
        m_stack.pop_back();
        return v;
    }

    ValuePtr& top(std::size_t at)
    {
        if (m_stack.empty())
            fail(at, "the stack is empty");
        return m_stack.back();
    }

    // The values above the last MARK, which is removed.
    List popMark(std::size_t at)
    {
        if (m_marks.empty())
            fail(at, "no MARK");
        const std::size_t mark = m_marks.back();
        m_marks.pop_back();
        List items(std::make_move_iterator(m_stack.begin() + static_cast<std::ptrdiff_t>(mark)), std::make_move_iterator(m_stack.end()));
        m_stack.resize(mark);
        return items;
    }

    void memoPut(std::uint64_t index, std::size_t at) { m_memo[index] = top(at); }

    ValuePtr memoGet(std::uint64_t index, std::size_t at)
    {
        auto it = m_memo.find(index);
        if (it == m_memo.end())
            fail(at, "memo entry " + std::to_string(index) + " is missing");
        return it->second;
    }

    void addItems(Value& target, List items, std::size_t at) const
    {
        if (auto* list = std::get_if<List>(&target.data)) {
            for (auto& item : items)
                list->push_back(std::move(item));
        } else if (!std::holds_alternative<Opaque>(target.data)) {
            fail(at, "APPEND to something that is not a list");
        }
    }

    void setItems(Value& target, List items, std::size_t at)
    {
        if (items.size() % 2)
            fail(at, "SETITEMS with an odd number of values");
        auto* dict = std::get_if<Dict>(&target.data);
        if (!dict) {
            if (std::holds_alternative<Opaque>(target.data))
                return;
            fail(at, "SETITEM on something that is not a dict");
        }
        auto& index = m_dictIndex[&target];
        for (std::size_t i = 0; i < items.size(); i += 2) {
            const std::optional<std::string> key = indexKey(*items[i]);
            if (key) {
                const auto [it, added] = index.emplace(*key, dict->size());
                if (!added) {
                    (*dict)[it->second].second = items[i + 1];
                    continue;
                }
            }
            dict->emplace_back(items[i], items[i + 1]);
        }
    }

    // Keys that compare equal in Python and matter here: strings and integers (tagged apart).
    static std::optional<std::string> indexKey(const Value& key)
    {
        if (const auto* s = std::get_if<std::string>(&key.data))
            return "s" + *s;
        if (const auto* i = std::get_if<std::int64_t>(&key.data))
            return "i" + std::to_string(*i);
        return std::nullopt;
    }

    std::vector<std::int64_t> integers(const ValuePtr& v, const char* what, std::size_t at) const
    {
        const auto* list = std::get_if<List>(&v->data);
        if (!list)
            fail(at, std::string(what) + " is not a tuple");
        std::vector<std::int64_t> out;
        for (const auto& item : *list) {
            const auto* i = std::get_if<std::int64_t>(&item->data);
            if (!i)
                fail(at, std::string(what) + " holds a non-integer");
            out.push_back(*i);
        }
        return out;
    }

    ValuePtr rebuildTensor(const List& args, std::size_t at) const
    {
        if (args.size() < 4)
            fail(at, "a tensor rebuild with " + std::to_string(args.size()) + " arguments");
        const auto* storage = std::get_if<StorageRef>(&args[0]->data);
        const auto* offset = std::get_if<std::int64_t>(&args[1]->data);
        if (!storage || !offset)
            fail(at, "a tensor rebuild without a storage and an offset");
        std::int64_t start = 0;
        if (*offset < 0 || storage->viewOffset < 0 || __builtin_add_overflow(*offset, storage->viewOffset, &start))
            fail(at, "a tensor offset out of range");
        TensorRef tensor{storage->key, storage->dtype, start, integers(args[2], "the size", at), integers(args[3], "the stride", at)};
        if (tensor.sizes.size() != tensor.strides.size())
            fail(at, "a tensor whose size and stride differ in length");
        return make(std::move(tensor));
    }

    ValuePtr call(const Global& callable, const List& args, std::size_t at) const
    {
        const std::string& name = callable.name;
        if (name == "collections.OrderedDict" || name == "builtins.dict")
            return m_arena.container(Dict{});
        if (name == "torch._utils._rebuild_tensor_v2" || name == "torch._utils._rebuild_tensor")
            return rebuildTensor(args, at);
        if (name == "torch._utils._rebuild_tensor_v3") {
            // PyTorch 2.x, for dtypes without a legacy storage class: an untyped (byte) storage and the
            // dtype as the seventh argument; offset, size and stride count elements of that dtype.
            const auto* dtype = args.size() > 6 ? std::get_if<Global>(&args[6]->data) : nullptr;
            if (!dtype)
                fail(at, name + " without a dtype");
            ValuePtr tensor = rebuildTensor(args, at);
            std::get<TensorRef>(tensor->data).dtype = tensorDtype(dtype->name, m_file);
            return tensor;
        }
        if (name == "torch._tensor._rebuild_from_type_v2") {
            // (rebuild function, tensor subclass, its arguments, state): the plain tensor is what we keep.
            const auto* inner = args.size() > 2 ? std::get_if<Global>(&args[0]->data) : nullptr;
            const auto* innerArgs = inner ? std::get_if<List>(&args[2]->data) : nullptr;
            if (!innerArgs)
                fail(at, name + " without a rebuild function and its arguments");
            return call(*inner, *innerArgs, at);
        }
        if (name == "torch._utils._rebuild_parameter" || name == "torch._utils._rebuild_parameter_with_state") {
            if (args.empty() || !std::holds_alternative<TensorRef>(args[0]->data))
                fail(at, name + " without a tensor");
            return args[0];
        }
        if (name == "torch.Size" && args.size() == 1)
            return args[0];
        if (name.rfind("torch._utils._rebuild", 0) == 0)
            throw Error(m_file + ": holds a kind of tensor Tunebench does not read (" + name + "); save plain dense tensors");
        return make(Opaque{name});
    }

    void step(unsigned char op, std::size_t at)
    {
        switch (op) {
        case 0x80: bytes(1); break;                                     // PROTO
        case 0x95: bytes(8); break;                                     // FRAME
        case '(': m_marks.push_back(m_stack.size()); break;             // MARK
        case '}': m_stack.push_back(m_arena.container(Dict{})); break;   // EMPTY_DICT
        case ']': m_stack.push_back(m_arena.container(List{})); break;   // EMPTY_LIST
        case ')': m_stack.push_back(m_arena.container(List{})); break;   // EMPTY_TUPLE
        case 'd': {                                                     // DICT
            auto dict = m_arena.container(Dict{});
            setItems(*dict, popMark(at), at);
            m_stack.push_back(dict);
            break;
        }
        case 'l': m_stack.push_back(m_arena.container(popMark(at))); break;  // LIST
        case 't': m_stack.push_back(m_arena.container(popMark(at))); break;  // TUPLE
        case 0x85: case 0x86: case 0x87: {                              // TUPLE1..3
            List items(op - 0x84);
            for (auto it = items.rbegin(); it != items.rend(); ++it)
                *it = pop(at);
            m_stack.push_back(m_arena.container(std::move(items)));
            break;
        }
        case 'J': m_stack.push_back(make<std::int64_t>(static_cast<std::int32_t>(unsignedLE(4)))); break;  // BININT
        case 'K': m_stack.push_back(make<std::int64_t>(static_cast<std::int64_t>(unsignedLE(1)))); break;  // BININT1
        case 'M': m_stack.push_back(make<std::int64_t>(static_cast<std::int64_t>(unsignedLE(2)))); break;  // BININT2
        case 0x8a: case 0x8b: {                                         // LONG1, LONG4
            const std::uint64_t count = unsignedLE(op == 0x8a ? 1 : 4);
            if (count > 8) {
                bytes(count);  // wider than 64 bits: only the legacy magic number, never a size
                m_stack.push_back(make<std::int64_t>(0));
                break;
            }
            std::uint64_t raw = count ? unsignedLE(count) : 0;
            if (count && count < 8 && (raw >> (8 * count - 1)) & 1)
                raw |= ~std::uint64_t(0) << (8 * count);  // sign-extend
            m_stack.push_back(make(static_cast<std::int64_t>(raw)));
            break;
        }
        case 'G': {                                                     // BINFLOAT, big-endian
            const auto* p = reinterpret_cast<const unsigned char*>(bytes(8));
            std::uint64_t bits = 0;
            for (int i = 0; i < 8; ++i)
                bits = (bits << 8) | p[i];
            double value;
            std::memcpy(&value, &bits, sizeof value);
            m_stack.push_back(make(value));
            break;
        }
        case 'N': m_stack.push_back(make(std::monostate{})); break;     // NONE
        case 0x88: m_stack.push_back(make(true)); break;                // NEWTRUE
        case 0x89: m_stack.push_back(make(false)); break;               // NEWFALSE
        case 'X': case 'T': case 'B': m_stack.push_back(make(text(unsignedLE(4)))); break;      // BINUNICODE, BINSTRING, BINBYTES
        case 0x8c: case 'U': case 'C': m_stack.push_back(make(text(unsignedLE(1)))); break;     // SHORT_ forms
        case 0x8d: case 0x8e: m_stack.push_back(make(text(unsignedLE(8)))); break;              // BINUNICODE8, BINBYTES8
        case 'c': {                                                     // GLOBAL
            std::string module = line();
            m_stack.push_back(make(Global{module + "." + line()}));
            break;
        }
        case 0x93: {                                                    // STACK_GLOBAL
            ValuePtr name = pop(at), module = pop(at);
            const auto* n = std::get_if<std::string>(&name->data);
            const auto* m = std::get_if<std::string>(&module->data);
            if (!n || !m)
                fail(at, "STACK_GLOBAL without two strings");
            m_stack.push_back(make(Global{*m + "." + *n}));
            break;
        }
        case 'R': case 0x81: {                                          // REDUCE, NEWOBJ
            ValuePtr args = pop(at), callable = pop(at);
            const auto* global = std::get_if<Global>(&callable->data);
            const auto* list = std::get_if<List>(&args->data);
            if (!global || !list)
                fail(at, "a call of something that is not a known global");
            m_stack.push_back(call(*global, *list, at));
            break;
        }
        case 'b': pop(at); break;                                       // BUILD: state of OrderedDict / opaque objects
        case 'Q': {                                                     // BINPERSID
            ValuePtr id = pop(at);
            m_stack.push_back(m_persistentLoad(id));
            break;
        }
        case 's': {                                                     // SETITEM
            ValuePtr value = pop(at), key = pop(at);
            setItems(*top(at), List{key, value}, at);
            break;
        }
        case 'u': {                                                     // SETITEMS
            List items = popMark(at);
            setItems(*top(at), std::move(items), at);
            break;
        }
        case 'a': {                                                     // APPEND
            ValuePtr value = pop(at);
            addItems(*top(at), List{value}, at);
            break;
        }
        case 'e': {                                                     // APPENDS
            List items = popMark(at);
            addItems(*top(at), std::move(items), at);
            break;
        }
        case 'q': memoPut(unsignedLE(1), at); break;                    // BINPUT
        case 'r': memoPut(unsignedLE(4), at); break;                    // LONG_BINPUT
        case 0x94: memoPut(m_memo.size(), at); break;                   // MEMOIZE
        case 'h': m_stack.push_back(memoGet(unsignedLE(1), at)); break; // BINGET
        case 'j': m_stack.push_back(memoGet(unsignedLE(4), at)); break; // LONG_BINGET
        case '0': pop(at); break;                                       // POP
        case '1': popMark(at); break;                                   // POP_MARK
        case '2': m_stack.push_back(top(at)); break;                    // DUP
        default: {
            char hex[8];
            std::snprintf(hex, sizeof hex, "0x%02x", op);
            fail(at, std::string("unsupported opcode ") + hex);
        }
        }
    }

    std::string m_file;
    const char* m_data;
    std::size_t m_size;
    std::size_t m_pos = 0;
    std::function<ValuePtr(const ValuePtr&)> m_persistentLoad;
    std::vector<ValuePtr> m_stack;
    std::vector<std::size_t> m_marks;
    std::unordered_map<std::uint64_t, ValuePtr> m_memo;
    ValueArena& m_arena;
    // Per dict, where each key sits: a SETITEM replaces in constant time (keys are strings or integers).
    std::unordered_map<const Value*, std::unordered_map<std::string, std::size_t>> m_dictIndex;
};

// ('storage', <storage global>, key, location, numel[, view_metadata]) -> StorageRef.
ValuePtr storageFromPersistentId(const ValuePtr& id, const std::string& file)
{
    const auto* fields = std::get_if<List>(&id->data);
    if (!fields || fields->size() < 5 || !std::holds_alternative<std::string>((*fields)[0]->data) ||
        std::get<std::string>((*fields)[0]->data) != "storage")
        throw Error(file + ": a persistent id that is not a storage");
    const auto* type = std::get_if<Global>(&(*fields)[1]->data);
    const auto* key = std::get_if<std::string>(&(*fields)[2]->data);
    if (!type || !key)
        throw Error(file + ": a malformed storage id");
    StorageRef storage{*key, storageDtype(type->name, file), 0};
    if (fields->size() > 5) {
        // Legacy views: (view_key, offset, size) into the storage `key`.
        if (const auto* view = std::get_if<List>(&(*fields)[5]->data); view && view->size() == 3) {
            if (const auto* offset = std::get_if<std::int64_t>(&(*view)[1]->data))
                storage.viewOffset = *offset;
        }
    }
    return make(storage);
}

// Weights nest a few dicts deep at most; the limit also stops a dict that contains itself.
constexpr int kMaxNesting = 64;

// The storages the weights refer to, by key (each read once; an optimizer's state is never read).
void collectKeys(const Value& v, std::map<std::string, c10::ScalarType>& keys, std::set<const Value*>& seen, const std::string& file,
                 int depth = 0)
{
    if (!seen.insert(&v).second)
        return;
    if (depth > kMaxNesting)
        throw Error(file + ": lists or dicts nested more than " + std::to_string(kMaxNesting) + " deep");
    if (const auto* t = std::get_if<TensorRef>(&v.data))
        keys.emplace(t->storageKey, t->dtype);
    else if (const auto* list = std::get_if<List>(&v.data))
        for (const auto& item : *list)
            collectKeys(*item, keys, seen, file, depth + 1);
    else if (const auto* dict = std::get_if<Dict>(&v.data))
        for (const auto& [key, value] : *dict)
            collectKeys(*value, keys, seen, file, depth + 1);
}

at::Tensor materialise(const TensorRef& ref, const std::map<std::string, at::Tensor>& storages, const std::string& name, const std::string& file)
{
    auto it = storages.find(ref.storageKey);
    if (it == storages.end())
        throw Error(file + ": tensor '" + name + "' refers to storage " + ref.storageKey + ", which the file lacks");
    const at::Tensor& storage = it->second;
    if (storage.scalar_type() != ref.dtype)
        throw Error(file + ": storage " + ref.storageKey + " is read with two element types");
    // The last element's index, offset + sum((size - 1) * stride), must lie inside the storage; summed
    // term by term against what is left so that no product can overflow.
    const std::int64_t numel = storage.numel();
    bool empty = false, inside = ref.offset >= 0 && ref.offset <= numel;
    std::int64_t last = ref.offset;
    for (std::size_t d = 0; d < ref.sizes.size(); ++d) {
        if (ref.sizes[d] < 0 || ref.strides[d] < 0)
            throw Error(file + ": tensor '" + name + "' has a negative size or stride");
        empty = empty || ref.sizes[d] == 0;
        if (inside && ref.sizes[d] > 1 && ref.strides[d] > 0) {
            if (ref.sizes[d] - 1 > (numel - last) / ref.strides[d])
                inside = false;
            else
                last += (ref.sizes[d] - 1) * ref.strides[d];
        }
    }
    if (ref.offset < 0 || ref.offset > numel || (!empty && (!inside || last >= numel)))
        throw Error(file + ": tensor '" + name + "' reaches past its storage (" + std::to_string(numel) + " elements)");
    return storage.as_strided(ref.sizes, ref.strides, ref.offset);
}

std::string keyText(const Value& key)
{
    if (const auto* s = std::get_if<std::string>(&key.data))
        return *s;
    if (const auto* i = std::get_if<std::int64_t>(&key.data))
        return std::to_string(*i);
    return {};
}

bool holdsTensors(const Value& v, int depth = 0)
{
    if (std::holds_alternative<TensorRef>(v.data))
        return true;
    if (const auto* dict = std::get_if<Dict>(&v.data); dict && depth < kMaxNesting)
        for (const auto& [key, value] : *dict)
            if (holdsTensors(*value, depth + 1))
                return true;
    return false;
}

void flatten(const Value& v, const std::string& prefix, std::vector<std::pair<std::string, const TensorRef*>>& out, int depth = 0)
{
    if (depth > kMaxNesting)
        throw Error("dicts nested more than " + std::to_string(kMaxNesting) + " deep at '" + prefix + "'");
    if (const auto* t = std::get_if<TensorRef>(&v.data)) {
        out.emplace_back(prefix, t);
    } else if (const auto* dict = std::get_if<Dict>(&v.data)) {
        for (const auto& [key, value] : *dict) {
            const std::string name = keyText(*key);
            if (!name.empty())
                flatten(*value, prefix.empty() ? name : prefix + "." + name, out, depth + 1);
        }
    }
}

// A training checkpoint wraps the weights: {"state_dict": ..., "epoch": 3, "optimizer": ...}.
const Value& weightsOf(const Value& top)
{
    if (const auto* dict = std::get_if<Dict>(&top.data)) {
        bool onlyTensors = true;
        for (const auto& [key, value] : *dict)
            onlyTensors = onlyTensors && std::holds_alternative<TensorRef>(value->data);
        if (!onlyTensors)
            for (const char* wrapper : {"state_dict", "model", "module", "model_state", "model_state_dict"})
                for (const auto& [key, value] : *dict)
                    if (keyText(*key) == wrapper && holdsTensors(*value))
                        return *value;
    }
    return top;
}

at::Tensor tensorFromRecord(std::tuple<at::DataPtr, std::size_t> record, c10::ScalarType dtype, const std::string& what, const std::string& file)
{
    auto& [data, size] = record;
    const std::size_t element = c10::elementSize(dtype);
    if (size % element)
        throw Error(file + ": " + what + " holds " + std::to_string(size) + " bytes, not a whole number of elements");
    auto owner = std::make_shared<at::DataPtr>(std::move(data));
    void* raw = owner->get();
    // The record's buffer becomes the tensor's storage: no copy.
    return torch::from_blob(raw, {static_cast<std::int64_t>(size / element)}, [owner](void*) mutable { owner.reset(); },
                            torch::TensorOptions().dtype(dtype));
}

// The uncompressed size each record of a zip archive claims, from its central directory (ZIP64 included),
// by name without the archive's top folder. LibTorch's reader allocates a record's claimed size before
// reading it, so a few corrupt bytes could ask for gigabytes; torch.save stores records uncompressed, so
// none can be larger than the file. Empty when the directory cannot be read (LibTorch then refuses the file).
std::map<std::string, std::uint64_t> zipRecordSizes(const std::string& path, std::uint64_t fileSize)
{
    std::map<std::string, std::uint64_t> sizes;
    std::ifstream in(path, std::ios::binary);
    auto readAt = [&](std::uint64_t offset, std::size_t count) {
        std::string bytes(count, '\0');
        if (offset > fileSize || count > fileSize - offset)
            return std::string();
        in.clear();
        in.seekg(static_cast<std::streamoff>(offset));
        if (!in.read(bytes.data(), static_cast<std::streamsize>(count)))
            return std::string();
        return bytes;
    };
    auto le = [](const std::string& bytes, std::size_t at, int width) {
        std::uint64_t value = 0;
        for (int i = width - 1; i >= 0; --i)
            value = (value << 8) | static_cast<unsigned char>(bytes[at + static_cast<std::size_t>(i)]);
        return value;
    };
    // The end-of-central-directory record: 22 bytes plus a comment of up to 65,535.
    const std::size_t tailSize = static_cast<std::size_t>(std::min<std::uint64_t>(fileSize, 22 + 65535));
    const std::string tail = readAt(fileSize - tailSize, tailSize);
    if (tail.size() < 22)
        return sizes;
    std::size_t end = std::string::npos;
    for (std::size_t at = tail.size() - 22 + 1; at-- > 0;)
        if (tail.compare(at, 4, "PK\x05\x06") == 0) {
            end = at;
            break;
        }
    if (end == std::string::npos)
        return sizes;
    std::uint64_t entries = le(tail, end + 10, 2), directorySize = le(tail, end + 12, 4), directoryOffset = le(tail, end + 16, 4);
    const std::uint64_t endOffset = fileSize - tailSize + end;
    if (endOffset >= 20) {
        const std::string locator = readAt(endOffset - 20, 20);
        if (locator.size() == 20 && locator.compare(0, 4, "PK\x06\x07") == 0) {
            const std::string zip64 = readAt(le(locator, 8, 8), 56);
            if (zip64.size() < 56 || zip64.compare(0, 4, "PK\x06\x06") != 0)
                return sizes;
            entries = le(zip64, 32, 8);
            directorySize = le(zip64, 40, 8);
            directoryOffset = le(zip64, 48, 8);
        }
    }
    const std::string directory = readAt(directoryOffset, static_cast<std::size_t>(std::min(directorySize, fileSize)));
    std::size_t at = 0;
    for (std::uint64_t entry = 0; entry < entries && at + 46 <= directory.size(); ++entry) {
        if (directory.compare(at, 4, "PK\x01\x02") != 0)
            break;
        std::uint64_t size = le(directory, at + 24, 4);
        const std::size_t nameLength = le(directory, at + 28, 2), extraLength = le(directory, at + 30, 2),
                          commentLength = le(directory, at + 32, 2);
        if (at + 46 + nameLength + extraLength > directory.size())
            break;
        std::string name = directory.substr(at + 46, nameLength);
        if (size == 0xFFFFFFFF) {  // the real size is in the ZIP64 extra field (id 1), first
            for (std::size_t field = at + 46 + nameLength; field + 4 <= at + 46 + nameLength + extraLength;) {
                const std::size_t id = le(directory, field, 2), length = le(directory, field + 2, 2);
                if (id == 1 && length >= 8 && field + 12 <= directory.size())
                    size = le(directory, field + 4, 8);
                field += 4 + length;
            }
        }
        if (const std::size_t slash = name.find('/'); slash != std::string::npos)
            name = name.substr(slash + 1);
        sizes[name] = size;
        at += 46 + nameLength + extraLength + commentLength;
    }
    return sizes;
}

// Error when a record of the zip archive at `path` claims more bytes than the file holds. Called before any
// LibTorch reader opens the archive: its constructor already reads (and allocates) the version record.
void refuseOversizedRecords(const std::string& path)
{
    std::error_code sizeError;
    const std::uint64_t fileSize = std::filesystem::file_size(path, sizeError);
    if (sizeError)
        throw Error(path + ": cannot read its size (" + sizeError.message() + ")");
    for (const auto& [name, size] : zipRecordSizes(path, fileSize))
        if (size > fileSize)
            throw Error(path + ": record " + name + " claims " + std::to_string(size) + " bytes, more than the file holds (" +
                        std::to_string(fileSize) + "); the archive is damaged");
}

} // namespace

TorchSaveKind torchSaveKind(const std::string& path)
{
    requireRegularFile(path);
    std::ifstream in(path, std::ios::binary);
    char head[sizeof kLegacyMagic] = {};
    in.read(head, sizeof head);
    if (in.gcount() == static_cast<std::streamsize>(sizeof head) && std::memcmp(head, kLegacyMagic, sizeof head) == 0)
        return TorchSaveKind::Legacy;
    if (in.gcount() < 4 || std::memcmp(head, "PK\x03\x04", 4) != 0)
        return TorchSaveKind::NotTorchSave;
    refuseOversizedRecords(path);
    try {
        caffe2::serialize::PyTorchStreamReader reader(path);
        for (const auto& record : reader.getAllRecords())
            if (record.rfind("code/", 0) == 0 || record.find("/code/") != std::string::npos)
                return TorchSaveKind::NotTorchSave;
        return reader.hasRecord("data.pkl") ? TorchSaveKind::Zip : TorchSaveKind::NotTorchSave;
    } catch (const c10::Error&) {
        return TorchSaveKind::NotTorchSave;
    }
}

StateDict readTorchSave(const std::string& path)
{
    const TorchSaveKind kind = torchSaveKind(path);
    if (kind == TorchSaveKind::NotTorchSave)
        throw Error(path + ": not a torch.save file");
    std::map<std::string, c10::ScalarType> storageTypes;  // every storage the pickle names
    auto persistentLoad = [&](const ValuePtr& id) {
        ValuePtr storage = storageFromPersistentId(id, path);
        const auto& ref = std::get<StorageRef>(storage->data);
        storageTypes.emplace(ref.key, ref.dtype);
        return storage;
    };

    ValueArena arena;  // declared first: freed after every value that refers into it
    ValuePtr top;
    std::map<std::string, at::Tensor> storages;
    std::map<std::string, c10::ScalarType> keys;
    std::set<const Value*> seen;
    if (kind == TorchSaveKind::Zip) {
        try {
            caffe2::serialize::PyTorchStreamReader reader(path);
            if (reader.hasRecord("byteorder")) {
                auto [data, size] = reader.getRecord("byteorder");
                if (std::string(static_cast<const char*>(data.get()), size) != "little")
                    throw Error(path + ": saved on a big-endian machine, which Tunebench does not read");
            }
            auto [pickle, pickleSize] = reader.getRecord("data.pkl");
            std::size_t position = 0;
            top = Unpickler(path, static_cast<const char*>(pickle.get()), pickleSize, persistentLoad, arena).load(position);
            collectKeys(weightsOf(*top), keys, seen, path);
            for (const auto& [key, dtype] : keys) {
                const std::string record = "data/" + key;
                if (!reader.hasRecord(record))
                    throw Error(path + ": storage record " + record + " is missing");
                storages[key] = tensorFromRecord(reader.getRecord(record), dtype, record, path);
            }
        } catch (const c10::Error& e) {
            throw Error(path + ": cannot read the archive (" + e.what_without_backtrace() + ")");
        }
    } else {
        // Legacy: magic number, protocol version, system info, the object, the storage keys in file order,
        // then each storage as an 8-byte element count and its raw elements. The pickles come first and are
        // small: read a head that holds them (grown until it does), then each storage straight into its
        // tensor.
        std::ifstream in(path, std::ios::binary | std::ios::ate);
        if (!in)
            throw Error(path + ": cannot open file");
        const auto fileSize = static_cast<std::size_t>(in.tellg());
        std::size_t position = 0;
        ValuePtr order;
        for (std::size_t want = std::min<std::size_t>(fileSize, 1 << 22);; want = std::min(fileSize, want * 8)) {
            std::string head(want, '\0');
            in.clear();
            in.seekg(0);
            if (!in.read(head.data(), static_cast<std::streamsize>(want)))
                throw Error(path + ": cannot read (" + std::strerror(errno) + ")");
            try {
                position = 0;
                Unpickler unpickler(path, head.data(), head.size(), persistentLoad, arena);
                for (int header = 0; header < 3; ++header)
                    unpickler.load(position);
                top = unpickler.load(position);
                order = unpickler.load(position);
                break;
            } catch (const Error&) {
                if (want == fileSize)
                    throw;
            }
        }
        collectKeys(weightsOf(*top), keys, seen, path);
        const auto* list = std::get_if<List>(&order->data);
        if (!list)
            throw Error(path + ": the list of storage keys is missing");
        in.seekg(static_cast<std::streamoff>(position));
        for (const auto& item : *list) {
            const auto* key = std::get_if<std::string>(&item->data);
            const auto type = key ? storageTypes.find(*key) : storageTypes.end();
            if (type == storageTypes.end())
                throw Error(path + ": the storage list names a storage no tensor uses");
            std::int64_t count = -1;
            in.read(reinterpret_cast<char*>(&count), 8);
            const std::size_t element = c10::elementSize(type->second);
            const std::size_t left = fileSize - std::min<std::size_t>(fileSize, position + 8);
            if (!in || count < 0 || static_cast<std::uint64_t>(count) > left / element)
                throw Error(path + ": the data ends early (truncated file?) in storage " + *key);
            const std::size_t bytes = static_cast<std::size_t>(count) * element;
            if (keys.count(*key)) {
                at::Tensor storage = torch::empty({count}, torch::TensorOptions().dtype(type->second));
                if (!in.read(static_cast<char*>(storage.data_ptr()), static_cast<std::streamsize>(bytes)))
                    throw Error(path + ": the data ends early (truncated file?) in storage " + *key);
                storages[*key] = storage;
            } else if (!in.seekg(static_cast<std::streamoff>(bytes), std::ios::cur)) {  // optimizer state and the like
                throw Error(path + ": the data ends early (truncated file?) in storage " + *key);
            }
            position += 8 + bytes;
        }
    }

    std::vector<std::pair<std::string, const TensorRef*>> named;
    try {
        flatten(weightsOf(*top), "", named);
    } catch (const Error& e) {
        throw Error(path + ": " + e.what());
    }
    if (named.empty())
        throw Error(path + ": no tensors in this torch.save file");
    StateDict out;
    for (const auto& [name, ref] : named)
        out[name] = materialise(*ref, storages, name, path);
    return out;
}

} // namespace tunebench
