import { describe, expect, it } from 'vitest';
import { tasks } from './index.ts';
import { CharTokenizer, DEFAULT_CHARS, TokenizerError, charTokenizer as tok } from './tokenizer.ts';

const PRINTABLE = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).join('');

describe('CharTokenizer ids', () => {
  it('has the documented layout: specials 0-2, newline 3, ASCII 32..126 at 4..98', () => {
    expect(tok.vocabSize).toBe(99);
    expect([tok.padId, tok.bosId, tok.eosId]).toEqual([0, 1, 2]);
    expect(tok.vocab.slice(0, 4)).toEqual(['<pad>', '<bos>', '<eos>', '\n']);
    expect(tok.encode(' 0A~')).toEqual([4, 20, 37, 98]);
    expect(tok.tokenToId('<eos>')).toBe(2);
    expect(tok.tokenToId('a')).toBe(69);
    expect(tok.tokenToId('\t')).toBeUndefined();
    expect(tok.idToToken(98)).toBe('~');
    expect(tok.idToToken(99)).toBeUndefined();
    expect(tok.configIds()).toEqual({ vocab_size: 99, bos_token_id: 1, eos_token_id: 2, pad_token_id: 0 });
  });
});

describe('encode / decode', () => {
  it('round-trips every printable character, newlines, and all task text', () => {
    const texts = [PRINTABLE, '\n\n a\nb \n', ''];
    for (const t of Object.values(tasks)) {
      for (const s of t.evalSets) for (const p of s.problems.slice(0, 50)) texts.push(p.prompt + t.teacher(p));
    }
    for (const s of texts) {
      const ids = tok.encode(s);
      expect(ids).toHaveLength(s.length);
      expect(tok.decode(ids)).toBe(s);
      expect(tok.decode(tok.encode(s, { bos: true, eos: true }))).toBe(s);
    }
  });

  it('adds <bos>/<eos> on request; decode drops specials unless asked to keep them', () => {
    expect(tok.encode('ab', { bos: true, eos: true })).toEqual([1, 69, 70, 2]);
    expect(tok.decode([1, 69, 70, 2, 0, 0])).toBe('ab');
    expect(tok.decode([1, 69, 70, 2, 0], { skipSpecial: false })).toBe('<bos>ab<eos><pad>');
    expect(tok.encode('<bos>')).toHaveLength(5); // text never becomes a special token
    expect(tok.decode(new Int32Array([37, 3]))).toBe('A\n');
  });

  it('unknown characters: a clear error by default, "?" on request', () => {
    expect(() => tok.encode('a\tb')).toThrow(TokenizerError);
    expect(() => tok.encode('a\tb')).toThrow('character U+0009 "\\t" at index 1 is not in the vocabulary');
    expect(() => tok.encode('x\r\n')).toThrow(/U\+000D/);
    expect(() => tok.encode('3×4')).toThrow(/U\+00D7/);
    expect(tok.encode('a\tb\u00e9', { unknown: 'replace' })).toEqual(tok.encode('a?b?'));
    expect(tok.findUnknown('abc')).toBe(-1);
    expect(tok.findUnknown('ab\u00e9')).toBe(2);
  });

  it('decode rejects ids outside the vocabulary', () => {
    expect(() => tok.decode([4, 99])).toThrow('token id 99 at index 1 is outside the vocabulary (0..98)');
    expect(() => tok.decode([-1])).toThrow(TokenizerError);
    expect(() => tok.decode([1.5])).toThrow(TokenizerError);
  });
});

describe('HuggingFace tokenizer.json', () => {
  it('export, JSON, import gives the same tokenizer', () => {
    const json = JSON.stringify(tok.toTokenizerJson());
    const back = CharTokenizer.fromTokenizerJson(json);
    expect(back.vocab).toEqual(tok.vocab);
    expect(back.encode(PRINTABLE)).toEqual(tok.encode(PRINTABLE));
    expect(CharTokenizer.fromTokenizerJson(JSON.parse(json)).vocab).toEqual(tok.vocab);
  });

  it('has the fields HF needs: BPE without merges, Fuse decoder, <bos> template, specials', () => {
    const j = tok.toTokenizerJson() as {
      model: { type: string; vocab: Record<string, number>; merges: unknown[] };
      decoder: { type: string };
      added_tokens: { id: number; content: string; special: boolean }[];
    };
    expect(j.model.type).toBe('BPE');
    expect(j.model.merges).toEqual([]);
    expect(Object.keys(j.model.vocab)).toHaveLength(99);
    expect(j.model.vocab['\n']).toBe(3);
    expect(j.decoder.type).toBe('Fuse');
    expect(j.added_tokens.map((t) => [t.id, t.content, t.special])).toEqual([
      [0, '<pad>', true],
      [1, '<bos>', true],
      [2, '<eos>', true],
    ]);
    const cfg = tok.tokenizerConfigJson(256);
    expect(cfg).toMatchObject({ bos_token: '<bos>', eos_token: '<eos>', pad_token: '<pad>', clean_up_tokenization_spaces: false, model_max_length: 256 });
  });

  it('matches what the Rust `tokenizers` library (0.23.2) produced from our tokenizer.json', () => {
    // Tokenizer.from_file(tokenizer.json).encode(s).ids, run once in Python; decode gave s back.
    expect(tok.encode('What is 347-285?\n', { bos: true })).toEqual([1, 59, 76, 69, 88, 4, 77, 87, 4, 23, 24, 27, 17, 22, 28, 25, 35, 3]);
    expect(tok.encode('3+5=8\nAnswer: (3+5)*2', { bos: true })).toEqual([1, 23, 15, 25, 33, 28, 3, 37, 82, 87, 91, 73, 86, 30, 4, 12, 23, 15, 25, 13, 14, 22]);
  });

  it('import refuses what it cannot represent, saying why', () => {
    const base = tok.toTokenizerJson() as { model: Record<string, unknown> };
    const withModel = (m: Record<string, unknown>) => ({ ...base, model: { ...base.model, ...m } });
    expect(() => CharTokenizer.fromTokenizerJson('{')).toThrow(/not valid JSON/);
    expect(() => CharTokenizer.fromTokenizerJson(42)).toThrow(/not an object/);
    expect(() => CharTokenizer.fromTokenizerJson({})).toThrow(/"model" is missing/);
    expect(() => CharTokenizer.fromTokenizerJson(withModel({ type: 'Unigram' }))).toThrow(/not a character-level/);
    expect(() => CharTokenizer.fromTokenizerJson(withModel({ merges: ['a b'] }))).toThrow(/no merges/);
    expect(() => CharTokenizer.fromTokenizerJson(withModel({ vocab: { '<pad>': 0, '<bos>': 1, '<eos>': 2, ab: 3, '?': 4 } }))).toThrow(/one character/);
    expect(() => CharTokenizer.fromTokenizerJson({ model: { type: 'BPE', vocab: { '<bos>': 0, '<pad>': 1, '<eos>': 2, '?': 3 } } })).toThrow(/id 0 must be <pad>/);
    expect(() => CharTokenizer.fromTokenizerJson({ model: { type: 'BPE', vocab: { '<pad>': 0, '<bos>': 1, '<eos>': 2, '?': 4 } } })).toThrow(/3 is missing/);
  });

  it('a custom character set works the same way', () => {
    const small = new CharTokenizer(['\n', ...'0123456789+-?']);
    expect(small.vocabSize).toBe(17);
    expect(small.decode(small.encode('12+3\n'))).toBe('12+3\n');
    expect(() => new CharTokenizer(['a', 'a', '?'])).toThrow(/duplicate/);
    expect(() => new CharTokenizer(['a'])).toThrow(/replacement/);
    expect(DEFAULT_CHARS).toHaveLength(96);
  });
});
