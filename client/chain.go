package client

import "context"

// chainUnary folds interceptors into one; the first is the outermost.
func chainUnary(is []UnaryInterceptor) UnaryInterceptor {
	switch len(is) {
	case 0:
		return nil
	case 1:
		return is[0]
	}
	return func(ctx context.Context, method string, req, reply any, cc *ClientConn, inv UnaryInvoker, opts ...CallOption) error {
		return is[0](ctx, method, req, reply, cc, unaryNext(is, 0, inv), opts...)
	}
}

func unaryNext(is []UnaryInterceptor, cur int, final UnaryInvoker) UnaryInvoker {
	if cur == len(is)-1 {
		return final
	}
	return func(ctx context.Context, method string, req, reply any, cc *ClientConn, opts ...CallOption) error {
		return is[cur+1](ctx, method, req, reply, cc, unaryNext(is, cur+1, final), opts...)
	}
}

// chainStream folds interceptors into one; the first is the outermost.
func chainStream(is []StreamInterceptor) StreamInterceptor {
	switch len(is) {
	case 0:
		return nil
	case 1:
		return is[0]
	}
	return func(ctx context.Context, desc *StreamDesc, cc *ClientConn, method string, st Streamer, opts ...CallOption) (Stream, error) {
		return is[0](ctx, desc, cc, method, streamNext(is, 0, st), opts...)
	}
}

func streamNext(is []StreamInterceptor, cur int, final Streamer) Streamer {
	if cur == len(is)-1 {
		return final
	}
	return func(ctx context.Context, desc *StreamDesc, cc *ClientConn, method string, opts ...CallOption) (Stream, error) {
		return is[cur+1](ctx, desc, cc, method, streamNext(is, cur+1, final), opts...)
	}
}
