// `lastdigit`: a warm-up task that a randomly initialised model can learn by RL alone, so the
// RL machinery can be seen working (and tested in CI) without a distilled model.
//
//   prompt:   "Repeat the last digit: 4821"      teacher: "1"
//
// The completion is the answer itself: reward 1 when its first character is the prompt's last
// digit (what follows is ignored); a first character that is not a digit is malformed. The digit
// to copy is the prompt's final token, so the signal is local and a tiny random model learns it
// in a few dozen RL steps; a uniform random policy over the 99-token vocabulary scores about 1%.
// Levels: in-dist = 3-4 digit numbers; hard = 6-7 digit numbers.
import { verdict } from './answer.ts';
import type { Rng } from './rng.ts';
import { defineTask } from './task.ts';
import type { Difficulty, Problem, Verdict } from './types.ts';

const PROMPT_RE = /^Repeat the last digit: ([0-9]{1,9})$/;

function draw(rng: Rng, difficulty: Difficulty): Problem {
  const digits = difficulty === 'hard' ? rng.int(6, 7) : rng.int(3, 4);
  const n = rng.int(10 ** (digits - 1), 10 ** digits - 1);
  return { prompt: `Repeat the last digit: ${n}`, answer: String(n % 10) };
}

function check(completion: string, problem: Problem): Verdict {
  const first = completion.trimStart().charAt(0);
  if (!/^[0-9]$/.test(first)) return verdict(first === '' ? 'empty-answer' : 'bad-format', first || null);
  return verdict(first === problem.answer ? 'correct' : 'wrong', first);
}

export const lastdigit = defineTask({
  id: 'lastdigit',
  name: 'Last digit (warm-up)',
  description: 'Repeat the last digit of a number. Learnable by RL from a random model: use it to see the machinery work.',
  limits: { promptChars: 31, completionChars: 1 },
  draw,
  key: (prompt) => PROMPT_RE.exec(prompt)?.[1] ?? prompt,
  check,
  teacher: (p) => p.answer,
});
