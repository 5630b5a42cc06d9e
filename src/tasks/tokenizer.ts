// Character-level tokenizer: one token per character, fixed vocabulary.
//
//   id 0 <pad>   id 1 <bos>   id 2 <eos>   id 3 "\n"   ids 4..98  printable ASCII 32..126
//                                                      (" " = 4, "0" = 20, "A" = 37, "~" = 98)
// vocab_size 99. Newline is in the vocabulary because completions are multi-line (worked
// steps, then the "Answer:" line). Any other character (tab, "\r", non-ASCII) is unknown:
// encode() throws a TokenizerError naming it and its position, or, with { unknown: 'replace' },
// writes "?" in its place. Special tokens are never produced from text: the five characters
// "<bos>" in a string encode as five characters.
//
// Export/import as a HuggingFace `tokenizer.json` (a BPE model with no merges, which splits any
// text into its characters; no normaliser, no pre-tokeniser; a Fuse decoder that joins tokens
// without spaces; a template post-processor that prepends <bos>, like encode(text, {bos:true})),
// plus `tokenizer_config.json` and the ids config.json needs. Checked against the Rust
// `tokenizers` library (see README.md). One difference: HF matches added tokens in raw text,
// so there the literal string "<bos>" becomes token 1; the lab's tasks never contain "<".

export class TokenizerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TokenizerError';
  }
}

export const SPECIAL_TOKENS = ['<pad>', '<bos>', '<eos>'] as const;
export type SpecialToken = (typeof SPECIAL_TOKENS)[number];

/** The default character set, in id order starting at 3: "\n", then ASCII 32..126. */
export const DEFAULT_CHARS: readonly string[] = Object.freeze([
  '\n',
  ...Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)),
]);

/** Written in place of an unknown character when encode() is asked to replace. */
export const REPLACEMENT_CHAR = '?';

export interface EncodeOptions {
  /** Prepend <bos> (default false). */
  bos?: boolean;
  /** Append <eos> (default false). */
  eos?: boolean;
  /** Unknown characters: throw (default) or write REPLACEMENT_CHAR instead. */
  unknown?: 'error' | 'replace';
}

export interface DecodeOptions {
  /** Drop <pad>/<bos>/<eos> (default true); false writes them as "<pad>", "<bos>", "<eos>". */
  skipSpecial?: boolean;
}

/** The ids HF's config.json wants (snake_case, as written there). */
export interface HfConfigIds {
  vocab_size: number;
  bos_token_id: number;
  eos_token_id: number;
  pad_token_id: number;
}

type JsonObject = { [k: string]: unknown };
const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);
const describe = (c: string): string => `U+${c.codePointAt(0)?.toString(16).toUpperCase().padStart(4, '0')} ${JSON.stringify(c)}`;

export class CharTokenizer {
  readonly padId = 0;
  readonly bosId = 1;
  readonly eosId = 2;
  /** Token text by id: the three specials, then one character per id. */
  readonly vocab: readonly string[];
  private readonly ids = new Map<string, number>();

  /** `chars`: the non-special tokens, one UTF-16 character each, in id order from 3. */
  constructor(chars: readonly string[] = DEFAULT_CHARS) {
    for (const c of chars) {
      if (typeof c !== 'string' || c.length !== 1) throw new TokenizerError(`every token must be one character, got ${JSON.stringify(c)}`);
      if (this.ids.has(c)) throw new TokenizerError(`duplicate character ${describe(c)}`);
      this.ids.set(c, SPECIAL_TOKENS.length + this.ids.size);
    }
    if (!this.ids.has(REPLACEMENT_CHAR)) throw new TokenizerError(`the vocabulary must contain the replacement character "${REPLACEMENT_CHAR}"`);
    this.vocab = Object.freeze([...SPECIAL_TOKENS, ...chars]);
  }

  get vocabSize(): number {
    return this.vocab.length;
  }

  /** Id of a character or special-token name, or undefined. */
  tokenToId(token: string): number | undefined {
    const special = SPECIAL_TOKENS.indexOf(token as SpecialToken);
    return special >= 0 ? special : this.ids.get(token);
  }

  idToToken(id: number): string | undefined {
    return Number.isInteger(id) ? this.vocab[id] : undefined;
  }

  /** Index of the first character of `text` outside the vocabulary, or -1. */
  findUnknown(text: string): number {
    for (let i = 0; i < text.length; i++) if (!this.ids.has(text[i] as string)) return i;
    return -1;
  }

  encode(text: string, options: EncodeOptions = {}): number[] {
    const out: number[] = [];
    if (options.bos) out.push(this.bosId);
    const replace = options.unknown === 'replace';
    const fallback = this.ids.get(REPLACEMENT_CHAR) as number;
    for (let i = 0; i < text.length; i++) {
      const c = text[i] as string;
      const id = this.ids.get(c);
      if (id !== undefined) out.push(id);
      else if (replace) out.push(fallback);
      else throw new TokenizerError(`character ${describe(c)} at index ${i} is not in the vocabulary (printable ASCII 32..126 and "\\n")`);
    }
    if (options.eos) out.push(this.eosId);
    return out;
  }

  decode(ids: ArrayLike<number>, options: DecodeOptions = {}): string {
    const skip = options.skipSpecial ?? true;
    let s = '';
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i] as number;
      const token = this.idToToken(id);
      if (token === undefined) throw new TokenizerError(`token id ${id} at index ${i} is outside the vocabulary (0..${this.vocabSize - 1})`);
      if (id < SPECIAL_TOKENS.length && skip) continue;
      s += token;
    }
    return s;
  }

  /** What to put in the model's config.json. */
  configIds(): HfConfigIds {
    return { vocab_size: this.vocabSize, bos_token_id: this.bosId, eos_token_id: this.eosId, pad_token_id: this.padId };
  }

  /** A HuggingFace `tokenizer.json` object (JSON.stringify it to write the file). */
  toTokenizerJson(): JsonObject {
    const vocab: Record<string, number> = {};
    this.vocab.forEach((t, id) => (vocab[t] = id));
    const bos = { SpecialToken: { id: '<bos>', type_id: 0 } };
    return {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: SPECIAL_TOKENS.map((content, id) => ({
        id,
        content,
        single_word: false,
        lstrip: false,
        rstrip: false,
        normalized: false,
        special: true,
      })),
      normalizer: null,
      pre_tokenizer: null,
      post_processor: {
        type: 'TemplateProcessing',
        single: [bos, { Sequence: { id: 'A', type_id: 0 } }],
        pair: [bos, { Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
        special_tokens: { '<bos>': { id: '<bos>', ids: [this.bosId], tokens: ['<bos>'] } },
      },
      decoder: { type: 'Fuse' },
      model: {
        type: 'BPE',
        dropout: null,
        unk_token: null,
        continuing_subword_prefix: null,
        end_of_word_suffix: null,
        fuse_unk: false,
        byte_fallback: false,
        ignore_merges: false,
        vocab,
        merges: [],
      },
    };
  }

  /** A HuggingFace `tokenizer_config.json` object to ship beside tokenizer.json. */
  tokenizerConfigJson(maxLength?: number): JsonObject {
    const decoder: Record<string, JsonObject> = {};
    SPECIAL_TOKENS.forEach((content, id) => {
      decoder[String(id)] = { content, lstrip: false, normalized: false, rstrip: false, single_word: false, special: true };
    });
    return {
      tokenizer_class: 'PreTrainedTokenizerFast',
      bos_token: '<bos>',
      eos_token: '<eos>',
      pad_token: '<pad>',
      add_bos_token: true,
      add_eos_token: false,
      // HF's default clean-up would rewrite " ." and " ," on decode: characters must survive.
      clean_up_tokenization_spaces: false,
      ...(maxLength !== undefined ? { model_max_length: maxLength } : {}),
      added_tokens_decoder: decoder,
    };
  }

  /**
   * Reads a tokenizer.json written by toTokenizerJson() (or any char-level one laid out the
   * same way: <pad>, <bos>, <eos> at ids 0, 1, 2, single characters after, no merges).
   * Throws a TokenizerError saying what does not fit.
   */
  static fromTokenizerJson(json: unknown): CharTokenizer {
    const fail = (msg: string): never => {
      throw new TokenizerError(`tokenizer.json: ${msg}`);
    };
    if (typeof json === 'string') {
      try {
        json = JSON.parse(json) as unknown;
      } catch {
        return fail('not valid JSON');
      }
    }
    if (!isObject(json)) return fail('not an object');
    const model = json['model'];
    if (!isObject(model)) return fail('"model" is missing');
    if (model['type'] !== 'BPE' && model['type'] !== 'WordLevel') return fail(`model type ${JSON.stringify(model['type'])} is not a character-level BPE/WordLevel model`);
    const merges = model['merges'];
    if (merges !== undefined && (!Array.isArray(merges) || merges.length > 0)) return fail('a character-level model has no merges');
    const vocab = model['vocab'];
    if (!isObject(vocab)) return fail('"model.vocab" is missing');
    const byId: string[] = [];
    for (const [token, id] of Object.entries(vocab)) {
      if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) return fail(`bad id ${JSON.stringify(id)} for ${JSON.stringify(token)}`);
      if (byId[id] !== undefined) return fail(`id ${id} is used twice`);
      byId[id] = token;
    }
    const added = json['added_tokens'];
    if (Array.isArray(added)) {
      for (const t of added) {
        if (!isObject(t) || typeof t['id'] !== 'number' || typeof t['content'] !== 'string') return fail('bad entry in "added_tokens"');
        if (byId[t['id']] !== undefined && byId[t['id']] !== t['content']) return fail(`added token ${t['id']} disagrees with the vocab`);
        byId[t['id']] = t['content'];
      }
    }
    SPECIAL_TOKENS.forEach((s, id) => {
      if (byId[id] !== s) fail(`id ${id} must be ${s}, got ${JSON.stringify(byId[id])}`);
    });
    const chars: string[] = [];
    for (let id = SPECIAL_TOKENS.length; id < byId.length; id++) {
      const t = byId[id];
      if (t === undefined) return fail(`ids are not contiguous: ${id} is missing`);
      chars.push(t);
    }
    return new CharTokenizer(chars);
  }
}

/** The lab's tokenizer: the default vocabulary above. */
export const charTokenizer = new CharTokenizer();
